"""Editing a project's entity types, each change saved at once and undoable.

``project.types`` is a :class:`TypesEditor`; ``project.schema`` is always the
schema as saved now. Every edit checks its input with the pure edits of
:class:`~allabel_core.data.schema.Schema` (BIO-safe names, no duplicates,
``#RRGGBB`` colours), then writes the new schema and whatever the edit
changes elsewhere in one transaction, with one history row, so the labeling
``project.labels.undo`` reverts it like any labeling action:

* :meth:`TypesEditor.rename` relabels every span of the type: the person's
  spans, the gold spans read from the files and stored predictions.
* :meth:`TypesEditor.remove` of a type that has spans refuses unless told
  ``delete_spans=True``; then those spans go too (and come back on undo).
  :meth:`TypesEditor.usage` counts them first, for the question to ask.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from ..data.schema import EntityType, Schema
from ..errors import SchemaError

Record = Callable[..., None]


def read_schema(conn) -> Schema:
    """The schema saved in a project's ``labels`` table."""
    return Schema(tuple(EntityType(n, d, c) for n, d, c in
                        conn.execute("SELECT name, description, color FROM labels ORDER BY pos")))


def write_schema(conn, types: list[dict]) -> None:
    conn.execute("DELETE FROM labels")
    conn.executemany("INSERT INTO labels VALUES (?, ?, ?, ?)",
                     [(i, t["name"], t["description"], t["color"]) for i, t in enumerate(types)])


def _types(schema: Schema) -> list[dict]:
    return schema.to_dict()["labels"]


class TypesEditor:
    """The entity-type edits of one project (``project.types``). ``db``: the
    project's :class:`~.db.Database`; ``record(conn, action, sentence_id,
    ops, summary)``: the history writer (:meth:`.labels.Labels.record`),
    which applies the ops and makes them undoable."""

    def __init__(self, db, record: Record):
        self._db = db
        self._record = record

    @property
    def schema(self) -> Schema:
        return read_schema(self._db.conn())

    def usage(self, name: str) -> dict[str, int]:
        """How many spans have type ``name``: ``{"confirmed", "suggested", "gold", "predicted"}``
        (``predicted``: in the newest stored prediction records)."""
        conn = self._db.conn()
        counts = dict.fromkeys(("confirmed", "suggested", "gold", "predicted"), 0)
        for status, n in conn.execute("SELECT status, COUNT(*) FROM spans WHERE label = ? GROUP BY status", (name,)):
            counts[status] = n
        counts["gold"] = conn.execute("SELECT COUNT(*) FROM gold_spans WHERE label = ?", (name,)).fetchone()[0]
        counts["predicted"] = sum(sum(1 for sp in json.loads(s) if sp[2] == name) for _, s in self._prediction_rows(conn, name))
        return counts

    @staticmethod
    def _prediction_rows(conn, name: str) -> list[tuple[int, str]]:
        needle = json.dumps(name, ensure_ascii=False)
        return [(seq, s) for seq, s in conn.execute("SELECT seq, spans FROM predictions WHERE instr(spans, ?) > 0", (needle,))
                if any(sp[2] == name for sp in json.loads(s))]

    def _apply(self, action: str, edit: Callable[[Schema], Schema], summary: dict, extra=None) -> Schema:
        with self._db.tx() as conn:
            before = read_schema(conn)
            after = edit(before)
            if after == before:
                return before
            ops = [["schema", _types(before), _types(after)]] + (extra(conn) if extra else [])
            self._record(conn, action, None, ops, summary)
        return after

    # -- the edits -------------------------------------------------------------
    def add(self, name: str, description: str = "", color: str | None = None) -> Schema:
        """Append a type (its key is the next free one; no other key moves)."""
        return self._apply("add_type", lambda s: s.add(name, description, color), {"type": str(name).strip()})

    def describe(self, name: str, description: str) -> Schema:
        """Set a type's definition (what an LLM is told the type means)."""
        return self._apply("describe_type", lambda s: s.describe(name, description), {"type": name})

    def recolour(self, name: str, color: str) -> Schema:
        return self._apply("recolour_type", lambda s: s.recolour(name, color), {"type": name, "color": color})

    def move(self, name: str, to: int) -> Schema:
        """Put a type at position ``to`` (0-based); keys follow the new order."""
        return self._apply("move_type", lambda s: s.move(name, to), {"type": name, "to": int(to)})

    def rename(self, old: str, new: str) -> Schema:
        """Rename a type and relabel all its spans (refused onto an existing name)."""
        new = str(new).strip()

        def relabel(conn) -> list:
            ops: list = []
            cols = ("id", "sentence_id", "start", "end", "label", "text", "status", "created_at")
            for row in conn.execute(f"SELECT {', '.join(cols)} FROM spans WHERE label = ?", (old,)).fetchall():
                before = dict(zip(cols, row))
                ops.append(["upd", before, dict(before, label=new)])
            for (rowid,) in conn.execute("SELECT rowid FROM gold_spans WHERE label = ?", (old,)).fetchall():
                ops.append(["gold_label", rowid, old, new])
            for seq, spans in self._prediction_rows(conn, old):
                renamed = [[a, b, new if lab == old else lab, *rest] for a, b, lab, *rest in json.loads(spans)]
                ops.append(["pred_spans", seq, spans, json.dumps(renamed, ensure_ascii=False, sort_keys=True)])
            return ops

        return self._apply("rename_type", lambda s: s.rename(old, new), {"type": old, "to": new}, relabel)

    def remove(self, name: str, *, delete_spans: bool = False) -> Schema:
        """Delete a type. If any span has it, ``SchemaError`` says how many,
        unless ``delete_spans``: then they are deleted with it (undo brings
        the type and its spans back)."""
        used = self.usage(name) if name in self.schema else {}
        if any(used.values()) and not delete_spans:
            raise SchemaError(f"type {name!r} has {describe_usage(used)}; "
                              "delete them with it (delete_spans=True) or rename the type instead")

        def drop(conn) -> list:
            cols = ("id", "sentence_id", "start", "end", "label", "text", "status", "created_at")
            ops: list = [["del", dict(zip(cols, r))] for r in
                         conn.execute(f"SELECT {', '.join(cols)} FROM spans WHERE label = ?", (name,)).fetchall()]
            for rowid, *row in conn.execute("SELECT rowid, role, sentence_id, start, end, label, text FROM gold_spans"
                                            " WHERE label = ?", (name,)).fetchall():
                ops.append(["gold_del", rowid, row])
            for seq, spans in self._prediction_rows(conn, name):
                kept = [sp for sp in json.loads(spans) if sp[2] != name]
                ops.append(["pred_spans", seq, spans, json.dumps(kept, ensure_ascii=False, sort_keys=True)])
            return ops

        return self._apply("delete_type", lambda s: s.remove(name), {"type": name, **used}, drop)

    def replace(self, schema) -> Schema:
        """Make the schema exactly ``schema`` (a :class:`Schema` or what
        :meth:`Schema.from_obj` reads). Refused if it drops a type that has spans."""
        new = Schema.from_obj(schema)
        current = self.schema
        for name in set(current.names) - set(new.names):
            used = self.usage(name)
            if any(used.values()):
                raise SchemaError(f"the new schema drops {name!r}, which has {describe_usage(used)}; "
                                  "delete or rename that type first")
        return self._apply("set_schema", lambda s: new, {"types": new.names})

    def merge(self, schema) -> Schema:
        """Add the types of ``schema`` that the project lacks (in its order);
        existing types keep their settings, an empty definition is filled in.
        This is how a ``schema.json`` or the labels of an annotated file are imported."""
        other = Schema.from_obj(schema)
        return self._apply("import_types", lambda s: s.merge(other), {"types": other.names})


def describe_usage(used: dict[str, int]) -> str:
    """``{"confirmed": 3, "gold": 2}`` → ``"3 confirmed, 2 gold spans"``."""
    parts = [f"{n} {kind}" for kind, n in used.items() if n]
    return (", ".join(parts) + " span" + ("s" if sum(used.values()) != 1 else "")) if parts else "no spans"
