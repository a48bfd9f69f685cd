// Keep the notebook's keyboard shortcuts away from a widget that has focus. Drawing leaves
// focus on the canvas, and in command mode `m` turns the pad's cell into Markdown, `d d`
// deletes it. Lumino hosts (JupyterLab, Notebook 7) skip their shortcuts for events from
// inside an element marked `data-lm-suppress-shortcuts`; other hosts (VS Code, Colab …)
// listen on the document, so the widget also stops keys from propagating past its root.
// Escape hands focus back to the notebook, in command mode on the widget's cell.

/** Application shortcuts that still work from inside the widget: save, command palette. */
export function passesThrough(event) {
  const accel = event.ctrlKey || event.metaKey;
  const key = String(event.key || "").toLowerCase();
  return accel && !event.altKey && (key === "s" || (event.shiftKey && key === "c"));
}

/** Focus the notebook around `root`: its cell in command mode, else the notebook, else nothing. */
export function focusNotebook(root) {
  const cell = root.closest(".jp-Cell");
  const notebook = root.closest(".jp-Notebook");
  if (document.activeElement instanceof HTMLElement) document.activeElement.blur();
  (cell || notebook)?.focus({ preventScroll: true });
}

/**
 * Guard `root`: no key pressed inside it reaches the notebook, except `passesThrough` keys;
 * Escape calls `onEscape` (default: focus the notebook). Keys a widget handles itself are
 * handled by its own listeners on elements inside `root` first. Returns the cleanup.
 */
export function guardKeys(root, { onEscape = () => focusNotebook(root) } = {}) {
  const ATTR = "data-lm-suppress-shortcuts";
  root.setAttribute(ATTR, "true");
  // Lumino checks the attribute while the key event travels (capture or bubble phase,
  // depending on the host): decide per key, before it does.
  const decide = (event) => {
    if (!(event.target instanceof Node) || !root.contains(event.target)) return;
    if (passesThrough(event)) root.removeAttribute(ATTR);
    else root.setAttribute(ATTR, "true");
  };
  const stop = (event) => {
    if (passesThrough(event)) return;
    event.stopPropagation();
    if (event.type === "keydown" && event.key === "Escape" && !event.defaultPrevented) {
      event.preventDefault();
      onEscape();
    }
  };
  const types = ["keydown", "keyup", "keypress"];
  for (const type of types) {
    window.addEventListener(type, decide, true);
    root.addEventListener(type, stop);
  }
  return () => {
    for (const type of types) {
      window.removeEventListener(type, decide, true);
      root.removeEventListener(type, stop);
    }
    root.removeAttribute(ATTR);
  };
}
