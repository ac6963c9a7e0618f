"""Settings and export: the predictor and its endpoint, budget and stages,
seeds, the embedder (local or a /v1/embeddings server); confirmed labels in every format the data layer writes.

An API key typed here lives in this browser session only and is never saved.
"""

from __future__ import annotations

import os

import streamlit as st

from allabel_core.dashboard import state
from allabel_core.dashboard.schema_editor import schema_editor
from allabel_core.errors import AllabelError, MissingTypesError
from allabel_core.formats import FORMATS, read_corpus_bytes
from allabel_core.predictors.registry import PREDICTORS, describe_predictor
from allabel_core.project.settings import parse_seed_list
from allabel_core.project import tasks
from allabel_core.retrieval import DESCRIPTIONS as RETRIEVERS
from allabel_core.selection.stages import STAGE_NAMES
from allabel_core.vectors.remote import EMBEDDERS, describe_embedder

EXPORTS = {"conll": "CoNLL (IOB2)", "jsonl": "JSONL tokens/tags", "doccano": "doccano JSONL",
           "labelstudio": "Label Studio JSON", "spacy": "spaCy-style JSONL"}

project = state.require_project()
settings = project.settings
tag = project.path.stem  # a switched project shows its own values
st.title("Settings")
in_use = st.empty()  # filled after a save, so it never shows the old predictor


def import_labels(project, upload, *, add_types: bool) -> None:
    """Read the upload and import it; types it uses that the project lacks
    are offered to be added (with their list), never added silently."""
    st.session_state["settings_import_missing"] = None
    try:
        corpus = read_corpus_bytes(upload.getvalue(), upload.name)
        report = project.import_labels(corpus, add_types=add_types, source=upload.name)
    except MissingTypesError as exc:
        st.session_state["settings_import_missing"] = f"{upload.name} uses types the project lacks: {', '.join(exc.missing)}."
        st.rerun()
    except AllabelError as exc:
        st.error(str(exc))
    else:
        st.success(report.line()[0].upper() + report.line()[1:] + ".")


def keep_key() -> None:
    typed = st.session_state["settings_api_key"]
    st.session_state["api_key"] = typed or None
    if typed:
        project.register_secret(typed)  # scrubbed from anything stored later


with st.form(key=f"settings_form_{tag}"):
    names = list(PREDICTORS)
    predictor = st.radio("Predictor", names, index=names.index(settings["predictor"]),
                         format_func=lambda p: PREDICTORS[p].description,
                         key=f"settings_predictor_{tag}", horizontal=True)
    base_url = st.text_input("Base URL", settings["base_url"], key=f"settings_base_url_{tag}",
                             help="Ollama http://localhost:11434/v1 · vLLM / llama.cpp http://localhost:8000/v1")
    model = st.text_input("Model", settings["model"], key=f"settings_model_{tag}")
    k = st.number_input("k: demonstrations per LLM prompt", 1, 64, int(settings["k"]), key=f"settings_k_{tag}")
    r = st.columns([3, 1])
    retriever = r[0].radio("Retriever: how demonstrations are found (both predictors) and how the similarity stage "
                           "ranks its coverage lists", list(RETRIEVERS), index=list(RETRIEVERS).index(settings["retriever"]),
                           format_func=lambda x: f"{x}: {RETRIEVERS[x]}", key=f"settings_retriever_{tag}")
    rrf_k = r[1].number_input("Fusion constant (hybrid)", 0.0, 1000.0, float(settings["rrf_k"]), step=10.0,
                              key=f"settings_rrf_k_{tag}", help="c in 1/(c + rank): larger values reward sentences both lists rank")
    budget = st.number_input("Budget: sentences to annotate", 1, len(project), min(int(settings["budget"]), len(project)),
                             key=f"settings_budget_{tag}")
    st.markdown("Stage split (diversity : similarity : uncertainty)")
    split = [c.number_input(n, 0.0, 100.0, float(v), key=f"settings_split_{n}_{tag}")
             for c, n, v in zip(st.columns(len(STAGE_NAMES)), STAGE_NAMES, settings["split"])]
    seed = st.number_input("Seed", 0, 2**31 - 1, int(settings["seed"]), key=f"settings_seed_{tag}")
    seeds = st.text_input("Seeds for curve experiments (comma-separated)", ", ".join(map(str, settings["seeds"])),
                          key=f"settings_seeds_{tag}")
    saved = st.form_submit_button("Save settings", type="primary", key=f"settings_save_{tag}")
if saved:
    try:
        project.set_settings(predictor=predictor, base_url=base_url.strip(), model=model.strip(), k=int(k),
                             retriever=retriever, rrf_k=float(rrf_k),
                             budget=int(budget), split=[float(x) for x in split], seed=int(seed),
                             seeds=parse_seed_list(seeds))
    except AllabelError as exc:
        st.error(str(exc))
    else:
        st.success("Saved.")
in_use.caption(f"Predictor in use: **{describe_predictor(project.settings)}**")

st.subheader("Embeddings")
with st.form(key=f"embed_form_{tag}"):
    kinds = list(EMBEDDERS)
    embedder_kind = st.radio("Embedder", kinds, index=kinds.index(settings.get("embedder", "local")), horizontal=True,
                             format_func=lambda k: {"local": "in-process all-MiniLM-L6-v2",
                                                    "openai": "OpenAI-compatible /v1/embeddings server"}[k],
                             key=f"settings_embedder_{tag}")
    embed_url = st.text_input("Embedding server base URL", settings.get("embed_base_url", ""), key=f"settings_embed_url_{tag}",
                              help="vLLM http://host:8000/v1 · TEI http://host:8080/v1 · llama.cpp --embedding http://host:8080/v1")
    embed_model = st.text_input("Embedding model", settings.get("embed_model", ""), key=f"settings_embed_model_{tag}")
    c1, c2 = st.columns(2)
    embed_batch = c1.number_input("Texts per request", 1, 4096, int(settings.get("embed_batch_size", 64)),
                                  key=f"settings_embed_batch_{tag}")
    embed_conc = c2.number_input("Requests at once", 1, 64, int(settings.get("embed_concurrency", 4)),
                                 key=f"settings_embed_conc_{tag}")
    embed_saved = st.form_submit_button("Save embedder", key=f"settings_embed_save_{tag}")
if embed_saved:
    try:
        project.set_settings(embedder=embedder_kind, embed_base_url=embed_url.strip(), embed_model=embed_model.strip(),
                             embed_batch_size=int(embed_batch), embed_concurrency=int(embed_conc))
    except AllabelError as exc:
        st.error(str(exc))
    else:
        st.success("Saved.")
made_by = project.records.embedder()
st.caption(f"Embedder chosen: **{describe_embedder(project.settings)}**"
           + (f" · this project's vectors were made by **{made_by}**" if made_by else ""))
if made_by and st.button("Re-embed the project with the chosen embedder", key=f"settings_reembed_{tag}",
                         help="Embeds every sentence again (cached ones are not sent) and drops the map layout"):
    bar = st.progress(0.0, text="embedding")
    try:
        tasks.reembed(project, state.get_embedder(project), progress=lambda d, t: bar.progress(d / max(t, 1)))
    except AllabelError as exc:
        st.error(str(exc))
    else:
        st.success(f"Re-embedded: the vectors are now {project.records.embedder()}.")

st.text_input("API key (this session only; never saved)", type="password", key="settings_api_key", on_change=keep_key)
if st.session_state["api_key"]:
    st.caption("A key typed in this session is in use.")
elif os.environ.get("OPENAI_API_KEY"):
    st.caption("Using the key in OPENAI_API_KEY.")

st.subheader("Entity types")
st.caption("Saved at once; keys on the Label page follow this order. Renaming relabels the spans; "
           "the definition is what an LLM is told.")
schema_editor(project)

st.subheader("Import labels")
labels_file = st.file_uploader("Annotated sentences (matched to the project's by id, else by text)",
                               key="settings_import_labels")
if st.button("Import labels", key="settings_import", disabled=labels_file is None):
    import_labels(project, labels_file, add_types=False)
if st.session_state.get("settings_import_missing") and labels_file is not None:
    st.warning(st.session_state["settings_import_missing"])
    if st.button("Add these types and import", key="settings_import_add_types_go"):
        import_labels(project, labels_file, add_types=True)

st.subheader("Export confirmed labels")
st.caption(f"{len(project.annotated())} confirmed sentences; suggestions are never exported.")
for fmt, label in EXPORTS.items():
    data, warnings = project.export(fmt)
    st.download_button(f"Download {label}", data, file_name=f"{tag}-{fmt}{FORMATS[fmt].extensions[0]}",
                       key=f"settings_export_{fmt}")
    if warnings:
        st.warning(f"{label} cannot hold {len(warnings)} span(s):\n\n" + "\n".join(f"- {w}" for w in warnings))
