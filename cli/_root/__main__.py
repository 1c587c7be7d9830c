"""`python -m thunlp_repro` (and `accelerate launch -m thunlp_repro ...`) runs the CLI."""

from thunlp_repro.cli.main import main

if __name__ == "__main__":
    main()
