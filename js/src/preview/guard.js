// Loop protection for generated code: a call to `__vdGuard()` is inserted at the top of
// every braced loop body, so a runaway loop throws instead of freezing the page (a
// sandboxed frame may share the notebook's renderer process and thread).
// A small scanner skips strings, template literals, comments and regex literals.

const LOOP = /^(for|while|do)\b/;

function skipString(src, i, quote) {
  for (i++; i < src.length; i++) {
    if (src[i] === "\\") i++;
    else if (src[i] === quote) return i + 1;
    else if (quote === "`" && src[i] === "$" && src[i + 1] === "{") {
      i = skipBalanced(src, i + 1, "{", "}") - 1;
    }
  }
  return i;
}

function skipComment(src, i) {
  if (src[i + 1] === "/") {
    const end = src.indexOf("\n", i);
    return end < 0 ? src.length : end;
  }
  const end = src.indexOf("*/", i + 2);
  return end < 0 ? src.length : end + 2;
}

function regexAllowed(src, i) {
  let j = i - 1;
  while (j >= 0 && /\s/.test(src[j])) j--;
  if (j < 0) return true;
  if (/[(,=:[!&|?{};+\-*%<>~^]/.test(src[j])) return true;
  return /\b(return|typeof|instanceof|in|of|new|delete|void|throw|case|do|else)$/.test(
    src.slice(Math.max(0, j - 10), j + 1),
  );
}

function skipRegex(src, i) {
  let inClass = false;
  for (i++; i < src.length; i++) {
    const c = src[i];
    if (c === "\\") i++;
    else if (c === "[") inClass = true;
    else if (c === "]") inClass = false;
    else if (c === "/" && !inClass) return i + 1;
    else if (c === "\n") return i;
  }
  return i;
}

/** Index just past the bracket that closes the one at `i` (strings and comments skipped). */
export function skipBalanced(src, i, open, close) {
  let depth = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === '"' || c === "'" || c === "`") {
      i = skipString(src, i, c);
      continue;
    }
    if (c === "/" && (src[i + 1] === "/" || src[i + 1] === "*")) {
      i = skipComment(src, i);
      continue;
    }
    if (c === open) depth++;
    else if (c === close) {
      depth--;
      if (depth === 0) return i + 1;
    }
    i++;
  }
  return i;
}

/** `code` with `__vdGuard();` inserted at the start of every braced loop body. */
export function instrumentLoops(code, guard = "__vdGuard();") {
  const inserts = [];
  let i = 0;
  const n = code.length;
  while (i < n) {
    const c = code[i];
    if (c === '"' || c === "'" || c === "`") {
      i = skipString(code, i, c);
      continue;
    }
    if (c === "/" && (code[i + 1] === "/" || code[i + 1] === "*")) {
      i = skipComment(code, i);
      continue;
    }
    if (c === "/" && regexAllowed(code, i)) {
      i = skipRegex(code, i);
      continue;
    }
    const prev = i ? code[i - 1] : " ";
    if (!/[\w$.]/.test(prev)) {
      const m = LOOP.exec(code.slice(i, i + 6));
      if (m) {
        let j = i + m[1].length;
        if (m[1] !== "do") {
          while (j < n && /\s/.test(code[j])) j++;
          if (code.startsWith("await", j)) j += 5; // for await (…)
          while (j < n && /\s/.test(code[j])) j++;
          if (code[j] !== "(") {
            i = j;
            continue;
          }
          j = skipBalanced(code, j, "(", ")");
        }
        while (j < n && /\s/.test(code[j])) j++;
        if (code[j] === "{") inserts.push(j + 1);
        i = i + m[1].length;
        continue;
      }
    }
    i++;
  }
  let out = "";
  let from = 0;
  for (const at of inserts) {
    out += code.slice(from, at) + guard;
    from = at;
  }
  return out + code.slice(from);
}

/**
 * A guard function: throws once an armed budget has run out. `arm(ms)` returns a release
 * function; budgets may overlap (an async build() awaiting while a frame's callbacks run)
 * and the earliest open deadline applies. Checks the clock every 1024 calls so tight
 * loops stay fast.
 */
export function makeGuard(now = () => performance.now()) {
  const open = new Set(); // deadlines of the budgets armed and not yet released
  let deadline = Infinity;
  let calls = 0;
  const guard = () => {
    if ((++calls & 1023) === 0 && now() > deadline) {
      throw new Error("the generated code ran too long (a runaway loop?) and was stopped");
    }
  };
  guard.arm = (ms) => {
    const token = { at: now() + ms };
    open.add(token);
    deadline = Math.min(deadline, token.at);
    calls = 0;
    return () => {
      open.delete(token);
      deadline = Math.min(Infinity, ...[...open].map((t) => t.at));
    };
  };
  return guard;
}
