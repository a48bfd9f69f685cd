// The pad's code editor: a plain <textarea> (native undo/redo, IME, selection, copy/paste)
// over a highlighted copy of its text, so the editor costs a few kilobytes instead of an
// editor library's hundreds. Ctrl/Cmd+Enter runs the code, Escape leaves the editor, and an
// error's line is marked.

const KEYWORDS = new Set(
  ("break case catch class const continue default delete do else export extends false finally for " +
    "function if import in instanceof let new null of return static super switch this throw true try " +
    "typeof undefined var void while with yield async await").split(" "),
);

// One pass over the text: comments, strings (incl. template literals), numbers, words.
const TOKEN = /(\/\/[^\n]*|\/\*[\s\S]*?(?:\*\/|$))|("(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?|`(?:[^`\\]|\\[\s\S])*`?)|(\b\d[\d_]*(?:\.\d+)?(?:e[+-]?\d+)?\b|\b0x[\da-f]+\b)|([A-Za-z_$][\w$]*)/gi;

const escapeHtml = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** HTML for `code` with spans for comments, strings, numbers, keywords and `THREE.*`. */
export function highlight(code) {
  let html = "";
  let last = 0;
  for (const m of code.matchAll(TOKEN)) {
    html += escapeHtml(code.slice(last, m.index));
    const [text, comment, string, number, word] = m;
    let cls = null;
    if (comment) cls = "c";
    else if (string) cls = "s";
    else if (number) cls = "n";
    else if (word && KEYWORDS.has(word)) cls = "k";
    else if (word === "THREE") cls = "t";
    html += cls ? `<span class="vd-hl-${cls}">${escapeHtml(text)}</span>` : escapeHtml(text);
    last = m.index + text.length;
  }
  // A trailing newline needs a character after it, or the copy is a line short.
  return `${html + escapeHtml(code.slice(last))}\n`;
}

// Generated code runs as the body of `new AsyncFunction("THREE", "ctx", "__vdGuard", code)`
// (preview/build.js): V8 puts two header lines before the body in its stack positions.
const FUNCTION_HEADER_LINES = 2;

/**
 * The 1-based line of the user's code an error points at, or null: from the stack's
 * `<anonymous>:L:C` position of the generated function, else a "line N" in the message.
 */
export function errorLine(message, stack = "") {
  const frame = /<anonymous>:(\d+):\d+/.exec(stack || "");
  if (frame) return Math.max(1, Number(frame[1]) - FUNCTION_HEADER_LINES);
  const m = /\bline\s+(\d+)/i.exec(message || "");
  return m ? Number(m[1]) : null;
}

export class CodeEditor {
  /**
   * @param {{onRun: (code: string) => void, onLeave: () => void}} hooks
   */
  constructor(hooks) {
    this.hooks = hooks;
    this.el = document.createElement("div");
    this.el.className = "vd-editor";
    this.highlighted = document.createElement("pre");
    this.highlighted.className = "vd-editor-hl";
    this.highlighted.setAttribute("aria-hidden", "true");
    this.text = document.createElement("textarea");
    this.text.className = "vd-editor-text";
    this.text.spellcheck = false;
    this.text.setAttribute("aria-label", "Generated code (editable: Ctrl+Enter runs it, Escape leaves)");
    this.text.setAttribute("autocomplete", "off");
    this.text.setAttribute("autocapitalize", "off");
    this.el.append(this.highlighted, this.text);
    this.errorAt = null;
    this.text.addEventListener("input", () => this._paint());
    this.text.addEventListener("scroll", () => this._syncScroll());
    this.text.addEventListener("keydown", (e) => this._key(e));
    this._paint();
  }

  get value() {
    return this.text.value;
  }

  /** Replace the text (from a stream or from Python); keeps the caret when it can. */
  setValue(code, { follow = false } = {}) {
    if (code === this.text.value) return;
    const { selectionStart, selectionEnd } = this.text;
    this.text.value = code;
    if (document.activeElement === this.text) this.text.setSelectionRange(selectionStart, selectionEnd);
    this.errorAt = null;
    this._paint();
    if (follow) this.text.scrollTop = this.text.scrollHeight;
  }

  set readOnly(on) {
    this.text.readOnly = on;
    this.el.classList.toggle("vd-editor-readonly", on);
  }

  /** Mark the line an error points at (or clear the mark with a null message). */
  markError(message, stack = "") {
    this.errorAt = message ? errorLine(message, stack) : null;
    this._paint();
  }

  _paint() {
    let html = highlight(this.text.value);
    if (this.errorAt) {
      const lines = html.split("\n");
      const i = this.errorAt - 1;
      if (i >= 0 && i < lines.length) lines[i] = `<mark class="vd-editor-error">${lines[i] || " "}</mark>`;
      html = lines.join("\n");
    }
    this.highlighted.innerHTML = html;
    this._syncScroll();
  }

  _syncScroll() {
    this.highlighted.scrollTop = this.text.scrollTop;
    this.highlighted.scrollLeft = this.text.scrollLeft;
  }

  _key(e) {
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") {
      e.preventDefault();
      this.hooks.onRun(this.text.value);
    } else if (e.key === "Escape") {
      e.preventDefault();
      this.text.blur();
      this.hooks.onLeave();
    } else if (e.key === "Tab" && !e.shiftKey && !e.ctrlKey && !e.metaKey) {
      e.preventDefault(); // indent instead of leaving (Escape leaves); undo still works
      document.execCommand?.("insertText", false, "  ");
    }
  }
}
