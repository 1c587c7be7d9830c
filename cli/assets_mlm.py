"""`thunlp-repro assets mlm-head NAME`: build the restored MLM head `NAME-mlm` of a backbone.

Reproduces: offline-assets.md §0 rule 2 / §1 ("Derived assets: restored MLM heads") and
prompt_transfer.md §2.6 (the recipe and its gate). The head is built through the asset installer,
so it lands in `$THUNLP_REPRO_HOME/assets/NAME-mlm/` with a manifest, all or nothing, and the
backbone and corpus assets it needs are installed first. Exit codes: 0 ok, 1 runtime failure (the
gate included), 2 usage error. Importing this module imports no torch.

Attached to the `assets` sub-app with ``app.command("mlm-head")(mlm_head)``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from thunlp_repro.shared.errors import ReproError


def _progress(message: str) -> None:
    typer.echo(message, err=True)


def _probe_line(probe: dict[str, Any]) -> str:
    ranked = ", ".join(
        f"{r['word']} {r['prob']:.2e} (#{r['vocab_rank']})" for r in probe["ranking"]
    )
    return f"  {probe['template']!r}: {ranked}"


def mlm_head(
    name: Annotated[
        str, typer.Argument(help="Backbone asset id: minilm-l6, minilm-l3 or mpnet-base.")
    ],
    tokens: Annotated[
        int | None,
        typer.Option(
            "--tokens",
            help="Training tokens of the masking draw (default 1,000,000; mpnet-base 300,000).",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Rebuild even if NAME-mlm is installed and intact.")
    ] = False,
    seed: Annotated[
        int,
        typer.Option("--seed", help="Seed of the head's init and data order (masking is fixed)."),
    ] = 0,
) -> None:
    """Train a BERT-style MLM head on the frozen backbone and install it as NAME-mlm.

    The head (decoder tied to the word embeddings) is trained on the offline `head` corpus and
    must beat the most-frequent-token baseline and the tied readout on held-out masked tokens.
    """
    from thunlp_repro.shared.assets import install, is_installed, register_asset
    from thunlp_repro.shared.mlm_head import (
        backbone_of,
        default_recipe,
        mlm_head_spec,
        read_head_card,
    )

    try:
        backbone = backbone_of(name)
        recipe = default_recipe(backbone, tokens, seed)
        spec = register_asset(mlm_head_spec(backbone, recipe=recipe), replace=True)
        if not force and is_installed(spec.name):
            try:
                built = read_head_card(spec.name).get("recipe", {})
            except (ReproError, OSError, ValueError):
                built = {}
            if built.get("tokens") != recipe.tokens or built.get("seed") != recipe.seed:
                _progress(
                    f"{spec.name}: installed with tokens={built.get('tokens')}, "
                    f"seed={built.get('seed')}; rebuilding with tokens={recipe.tokens}, "
                    f"seed={recipe.seed}"
                )
                force = True
        (result,) = [r for r in install([spec.name], force=force, progress=_progress)
                     if r.name == spec.name]  # fmt: skip
        card = read_head_card(spec.name)
    except ReproError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    m, data = card["metrics"], card["data"]
    typer.echo(f"{result.status:<9} {spec.name}  {result.seconds:.1f} s  {result.path}")
    typer.echo(
        f"held-out masked top-1: head {m['head_top1']:.2%} (top-5 {m['head_top5']:.2%}) | "
        f"most-frequent {m['most_frequent_top1']:.2%} ({m['most_frequent_token']!r}) | "
        f"tied {m['tied_top1']:.2%}   [{data['train_tokens']:,} train tokens, "
        f"{data['eval_masked']:,} held-out masks]"
    )
    for probe in card.get("probes", []):
        typer.echo(_probe_line(probe))
