"""`python -m thunlp_repro.cli` runs the CLI."""

from thunlp_repro.cli.main import main

if __name__ == "__main__":
    main()
