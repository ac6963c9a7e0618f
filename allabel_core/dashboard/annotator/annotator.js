// ALLabel span annotator: a Streamlit custom component (v2), plain ES module, no build step.
//
// Python sends props (see allabel_core/views/annotator.py): the sentence text, its tokens
// with offsets, the spans (suggested / accepted) as token ranges, the types with colours
// and keys, the sentence's revision and the id of the last event the server handled.
// Every piece of user text goes into the page through textContent, never as HTML.
//
// A person's action becomes ONE event naming token indices, sent with setTriggerValue.
// It is drawn at once (optimistically) and sent; events go one at a time, each after the
// server acknowledged the previous one, so each is read against the props it was made on.
// The server's next props are the truth: they replace the optimistic drawing.

const instances = new WeakMap();
const COLOR = /^#[0-9A-Fa-f]{6}$/;
const COMMAND_KEYS = { n: "confirm", s: "skip", p: "previous", u: "undo", g: "suggest", a: "accept_all" };
const BUSY_WORDS = {
  confirm: "confirming…", skip: "skipping…", previous: "opening the previous sentence…",
  undo: "undoing your last action…", suggest: "asking the predictor…", accept_all: "accepting the suggestions…",
};
let lastId = 0;

function nextEventId() {
  // Increasing across remounts and page loads of this tab: the server acknowledges by id.
  lastId = Math.max(lastId + 1, Date.now() * 1000);
  return lastId;
}

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function safeColor(c) {
  return COLOR.test(c || "") ? c : "#BAB0AC";
}

function typing(event) {
  const t = event.composedPath ? event.composedPath()[0] : event.target;
  if (!t || !t.tagName) return false;
  const tag = t.tagName.toLowerCase();
  return tag === "input" || tag === "textarea" || tag === "select" || t.isContentEditable;
}

class Annotator {
  constructor(parent) {
    this.parent = parent;
    this.root = parent.querySelector(".aa-root");
    this.textBox = this.root.querySelector(".aa-text");
    this.noticeBox = this.root.querySelector(".aa-notice");
    this.goldBox = this.root.querySelector(".aa-gold");
    this.chipBox = this.root.querySelector(".aa-chips");
    this.server = null; // the last props
    this.queue = []; // events not yet acknowledged, oldest first; queue[0] may be in flight
    this.inflight = null;
    this.sel = null; // {anchor, focus} token indices
    this.dragging = false;
    this.localNotice = null;
    this.tokenEls = [];

    this.onKey = (e) => this.key(e);
    this.onUp = () => { this.dragging = false; };
    document.addEventListener("keydown", this.onKey, true);
    document.addEventListener("mouseup", this.onUp, true);
    this.textBox.addEventListener("mousedown", (e) => this.mouseDown(e));
    this.textBox.addEventListener("mouseover", (e) => this.mouseOver(e));
    this.chipBox.addEventListener("click", (e) => {
      const chip = e.target.closest("[data-type]");
      if (chip) this.label(chip.getAttribute("data-type"));
    });
    this.root.querySelector(".aa-commands").addEventListener("click", (e) => {
      const b = e.target.closest("[data-command]");
      if (b) this.command(b.getAttribute("data-command"));
    });
    this.cleanup = () => {
      document.removeEventListener("keydown", this.onKey, true);
      document.removeEventListener("mouseup", this.onUp, true);
      instances.delete(this.parent);
    };
  }

  // -- props from Python ---------------------------------------------------------------
  update(data, trigger) {
    this.trigger = trigger;
    const prev = this.server;
    this.server = data;
    const ack = data.ack || 0;
    let refused = false;
    if (this.inflight && ack >= this.inflight.id) {
      clearTimeout(this.slow);
      const notice = data.notice;
      refused = !!(notice && notice.event === this.inflight.id && notice.kind === "error");
      this.inflight = null;
    }
    this.queue = this.queue.filter((ev) => ev.id > ack);
    if (refused) {
      // The queued actions were made on a view the server did not keep.
      this.queue = [];
    } else if (prev && prev.sid !== data.sid) {
      this.queue = this.queue.filter((ev) => ev === this.inflight || ev.sid === data.sid);
    }
    // A selection is a range of token indices: it survives the server's answer only
    // while the words are the same ones.
    if (!prev || this.sig(prev) !== this.sig(data)) this.sel = null;
    this.localNotice = null;
    this.preview = null;
    this.drawChips();
    this.draw();
    this.pump();
  }

  sig(data) {
    return data.sid + "|" + data.tokens.map((t) => t.u16[0] + ":" + t.u16[1]).join(",");
  }

  // -- sending ------------------------------------------------------------------------
  act(ev) {
    ev.id = nextEventId();
    ev.sid = this.server.sid;
    ev.sig = this.sig(this.server);
    this.queue.push(ev);
    this.sel = null; // cleared after every action, accepted or refused
    this.localNotice = null;
    this.draw();
    this.pump();
  }

  pump() {
    if (this.inflight || !this.queue.length || !this.trigger) return;
    const ev = this.queue[0];
    if (ev.sid !== this.server.sid || ev.sig !== this.sig(this.server)) {
      this.queue = [];
      this.say("error", "The sentence changed before your last action was saved; nothing was applied.");
      this.draw();
      return;
    }
    ev.sent = true;
    this.inflight = ev;
    clearTimeout(this.slow);
    this.slow = setTimeout(() => {
      if (this.inflight === ev) {
        this.say("error", "Not saved yet: the server has not answered for 15 s. If this stays, reload the "
          + "page and check the sentence: this last action may need doing again.");
      }
    }, 15000);
    const payload = { id: ev.id, sid: ev.sid, rev: this.server.rev, kind: ev.kind, t: Date.now() };
    if (ev.first !== undefined) { payload.first = ev.first; payload.last = ev.last; }
    if (ev.label !== undefined) payload.label = ev.label;
    this.trigger("action", payload);
  }

  busy() {
    return this.queue.some((ev) => !ev.span);
  }

  // -- the person's actions -------------------------------------------------------------
  range() {
    if (!this.sel) return null;
    const a = this.sel.anchor, b = this.sel.focus;
    return [Math.min(a, b), Math.max(a, b)];
  }

  label(name) {
    if (!this.server || this.busy()) return;
    const r = this.range();
    if (!r) { this.say("info", "Select one or more words first, then the type."); return; }
    const spans = this.view();
    const exact = spans.find((s) => s.first === r[0] && s.last === r[1]);
    if (exact && exact.status === "accepted" && exact.label === name) {
      this.refuse(`“${this.words(r)}” is already accepted as ${name}`);
      return;
    }
    if (!exact) {
      const hit = spans.filter((s) => s.status === "accepted" && s.first <= r[1] && r[0] <= s.last);
      if (hit.length) {
        const listed = hit.map((s) => `“${this.words([s.first, s.last])}” (${s.label})`).join("; ");
        this.refuse(`“${this.words(r)}” overlaps the accepted span ${listed}; remove that span first (Backspace)`);
        return;
      }
    }
    this.act({ kind: "label", first: r[0], last: r[1], label: name, span: true });
  }

  remove() {
    if (!this.server || this.busy()) return;
    const r = this.range();
    if (!r) { this.say("info", "Click a word of a span, then Backspace to remove it."); return; }
    const under = this.view().filter((s) => s.first <= r[1] && r[0] <= s.last);
    if (!under.length) { this.refuse(`there is no span under “${this.words(r)}” to remove`); return; }
    if (under.length > 1) {
      this.refuse(`“${this.words(r)}” touches ${under.length} spans; select a word inside the one to remove`);
      return;
    }
    this.act({ kind: "remove", first: under[0].first, last: under[0].last, span: true });
  }

  command(kind) {
    if (!this.server || this.busy()) return;
    if (kind === "accept_all") {
      if (!this.view().some((s) => s.status === "suggested")) {
        this.refuse("there are no suggested spans to accept");
        return;
      }
      this.act({ kind, span: true });
      return;
    }
    // Draw where the command leads at once, from the props Python sent ahead
    // (the server's answer replaces it; input waits for that answer).
    const ahead = { confirm: "next", skip: "next", previous: "previous" }[kind];
    this.preview = ahead && this.server[ahead] ? this.server[ahead] : null;
    this.act({ kind, span: false });
  }

  refuse(text) {
    this.sel = null;
    this.say("error", text);
    this.draw();
  }

  say(kind, text) {
    this.localNotice = { kind, text };
    this.drawNotice();
  }

  words(r) {
    const toks = this.server.tokens;
    const a = toks[r[0]].u16[0], b = toks[r[1]].u16[1];
    return this.server.text.slice(a, b);
  }

  // -- input --------------------------------------------------------------------------
  key(e) {
    if (!this.server || !this.root.isConnected || e.ctrlKey || e.metaKey || e.altKey || typing(e)) return;
    const k = e.key;
    const type = this.server.types.find((t) => t.key !== null && t.key === k);
    let handled = true;
    if (type) this.label(type.name);
    else if (k === "Backspace" || k === "Delete") this.remove();
    else if (k === "Escape") { this.sel = null; this.localNotice = null; this.draw(); }
    else if (COMMAND_KEYS[k.toLowerCase()] && !e.shiftKey) this.command(COMMAND_KEYS[k.toLowerCase()]);
    else handled = false;
    if (handled) { e.preventDefault(); e.stopPropagation(); }
  }

  tokenAt(e) {
    const t = e.target.closest ? e.target.closest("[data-token-index]") : null;
    return t ? Number(t.getAttribute("data-token-index")) : null;
  }

  mouseDown(e) {
    if (e.button !== 0 || !this.server) return;
    e.preventDefault();
    const tag = e.target.closest ? e.target.closest(".aa-tag") : null;
    if (tag) {
      const mark = tag.closest("[data-span-first]");
      this.sel = { anchor: Number(mark.getAttribute("data-span-first")), focus: Number(mark.getAttribute("data-span-last")) };
      this.drawSelection();
      return;
    }
    const i = this.tokenAt(e);
    if (i === null) return;
    if (e.shiftKey && this.sel) this.sel = { anchor: this.sel.anchor, focus: i };
    else this.sel = { anchor: i, focus: i };
    this.dragging = true;
    this.localNotice = null;
    this.drawNotice();
    this.drawSelection();
  }

  mouseOver(e) {
    if (!this.dragging || !this.sel) return;
    const i = this.tokenAt(e);
    if (i === null || i === this.sel.focus) return;
    this.sel = { anchor: this.sel.anchor, focus: i };
    this.drawSelection();
  }

  // -- the optimistic view -------------------------------------------------------------
  shown() {
    return this.preview || this.server;
  }

  view() {
    if (this.preview) return this.preview.spans.map((s) => ({ ...s }));
    let spans = this.server.spans.map((s) => ({ ...s }));
    for (const ev of this.queue) {
      if (ev.sid !== this.server.sid || ev.sig !== this.sig(this.server)) continue;
      if (ev.kind === "label") {
        const exact = spans.find((s) => s.first === ev.first && s.last === ev.last);
        if (exact) { exact.label = ev.label; exact.status = "accepted"; exact.pending = true; continue; }
        spans = spans.filter((s) => !(s.first <= ev.last && ev.first <= s.last));
        spans.push({ first: ev.first, last: ev.last, label: ev.label, status: "accepted", pending: true });
      } else if (ev.kind === "remove") {
        spans = spans.filter((s) => !(s.first === ev.first && s.last === ev.last));
      } else if (ev.kind === "accept_all") {
        for (const s of spans) if (s.status === "suggested") { s.status = "accepted"; s.pending = true; }
      }
    }
    return spans.sort((a, b) => a.first - b.first);
  }

  // -- drawing ------------------------------------------------------------------------
  drawChips() {
    const types = this.server.types;
    const sig = JSON.stringify(types);
    if (sig === this.chipSig) return;
    this.chipSig = sig;
    this.chipBox.replaceChildren();
    for (const t of types) {
      const chip = el("button", "aa-chip");
      chip.type = "button";
      chip.setAttribute("data-type", t.name);
      chip.style.setProperty("--c", safeColor(t.color));
      chip.title = t.description ? `${t.name}: ${t.description}` : t.name;
      chip.appendChild(el("span", "aa-chip-name", t.name));
      if (t.gloss) chip.appendChild(el("span", "aa-chip-gloss", t.gloss));
      if (t.key !== null) chip.appendChild(el("kbd", null, t.key));
      this.chipBox.appendChild(chip);
    }
  }

  draw() {
    const d = this.shown();
    if (!d) return;
    const spans = this.view();
    const colors = Object.fromEntries(d.types.map((t) => [t.name, safeColor(t.color)]));
    const frag = document.createDocumentFragment();
    this.tokenEls = [];
    let pos16 = 0;
    let si = 0;
    let i = 0;
    const n = d.tokens.length;
    const gapBefore = (k) => d.text.slice(k === 0 ? 0 : d.tokens[k - 1].u16[1], d.tokens[k].u16[0]);
    const tokenEl = (k) => {
      const tok = d.tokens[k];
      const t = el("span", "aa-tok", d.text.slice(tok.u16[0], tok.u16[1]));
      t.setAttribute("data-token-index", String(k));
      this.tokenEls[k] = t;
      return t;
    };
    while (i < n) {
      const gap = gapBefore(i);
      if (gap) frag.appendChild(document.createTextNode(gap));
      const sp = si < spans.length && spans[si].first === i ? spans[si] : null;
      if (!sp) {
        frag.appendChild(tokenEl(i));
        i += 1;
        continue;
      }
      const mark = el("mark", "aa-span" + (sp.pending ? " aa-pending" : ""));
      mark.setAttribute("data-status", sp.status);
      mark.setAttribute("data-label", sp.label);
      mark.setAttribute("data-span-first", String(sp.first));
      mark.setAttribute("data-span-last", String(sp.last));
      mark.style.setProperty("--c", colors[sp.label] || "#BAB0AC");
      mark.title = `${sp.label} · ${sp.status}${sp.pending ? " (saving…)" : ""}`;
      for (let k = sp.first; k <= sp.last; k += 1) {
        if (k > sp.first) {
          const g = gapBefore(k);
          if (g) mark.appendChild(document.createTextNode(g));
        }
        mark.appendChild(tokenEl(k));
      }
      mark.appendChild(el("span", "aa-tag", sp.label));
      frag.appendChild(mark);
      i = sp.last + 1;
      si += 1;
      while (si < spans.length && spans[si].first < i) si += 1; // overlaps cannot be drawn; the store has none
    }
    pos16 = n ? d.tokens[n - 1].u16[1] : 0;
    const tail = d.text.slice(pos16);
    if (tail) frag.appendChild(document.createTextNode(tail));
    this.textBox.replaceChildren(frag);

    const state = this.root.querySelector(".aa-state");
    state.textContent = d.state === "confirmed" ? "confirmed" : d.state === "skipped" ? "skipped" : "not confirmed yet";
    state.setAttribute("data-state", d.state || "open");
    this.root.querySelector(".aa-caption").textContent = d.caption || "";
    this.root.setAttribute("data-state", "ready");
    this.root.setAttribute("data-sid", d.sid);
    this.root.setAttribute("data-rev", String(d.rev));
    this.root.setAttribute("data-busy", this.busy() ? "true" : "false");
    this.root.setAttribute("data-pending", String(this.queue.length));
    if (this.preview) this.goldBox.hidden = true;
    else this.drawGold();
    this.drawSelection();
    this.drawNotice();
  }

  drawSelection() {
    const r = this.range();
    this.tokenEls.forEach((t, k) => t.classList.toggle("aa-sel", !!r && k >= r[0] && k <= r[1]));
    this.root.setAttribute("data-selection", r ? `${r[0]}-${r[1]}` : "");
  }

  drawNotice() {
    const busyEv = this.queue.find((ev) => !ev.span);
    let notice = this.localNotice;
    if (!notice && busyEv) notice = { kind: "info", text: BUSY_WORDS[busyEv.kind] || "saving…" };
    if (!notice && this.server && this.server.notice) notice = this.server.notice;
    this.noticeBox.textContent = notice ? notice.text : "";
    this.noticeBox.setAttribute("data-kind", notice ? notice.kind : "");
  }

  drawGold() {
    const g = this.server.gold;
    this.goldBox.hidden = !g;
    this.goldBox.replaceChildren();
    if (!g) return;
    const colors = Object.fromEntries(this.server.types.map((t) => [t.name, safeColor(t.color)]));
    const line = (title, items, show) => {
      const p = el("div");
      p.appendChild(el("b", null, `${title} (${items.length}): `));
      if (!items.length) p.appendChild(document.createTextNode("none"));
      for (const it of items) {
        const s = el("span", "aa-g", show(it));
        s.style.setProperty("--c", colors[it.gold_label || it.label] || "#BAB0AC");
        p.appendChild(s);
      }
      this.goldBox.appendChild(p);
    };
    this.goldBox.appendChild(el("div", null, g.title || "Against gold:"));
    line("missed", g.missed, (it) => `${it.text} (${it.label})`);
    line("added", g.added, (it) => `${it.text} (${it.label})`);
    line("mis-typed", g.mistyped, (it) => `${it.text} (you: ${it.label}, gold: ${it.gold_label})`);
    if (g.summary) this.goldBox.appendChild(el("div", null, g.summary));
  }
}

export default function annotator(component) {
  const { parentElement, data, setTriggerValue } = component;
  let inst = instances.get(parentElement);
  if (!inst) {
    inst = new Annotator(parentElement);
    instances.set(parentElement, inst);
  }
  if (data) inst.update(data, setTriggerValue);
  return inst.cleanup;
}
