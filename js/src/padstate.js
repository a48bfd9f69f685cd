// What the pad may offer, derived from its synced state: which actions are enabled (and
// why not, for the hover title), whether the code pane still belongs to the result on
// screen, and what downloads are called. Pure functions of plain data, so node's test
// runner covers them; sketchpad.js only applies the answers to the DOM.
import { busy } from "./controller.js";
import { normalizeSketch } from "./draw/strokes.js";

/** Whether a sketch has anything to make a model of (labels alone are not a drawing). */
export function hasStrokes(sketch) {
  return normalizeSketch(sketch).strokes.some((s) => Array.isArray(s.points) && s.points.length > 0);
}

const point = (p) => [Number(p[0]), Number(p[1]), p.length > 2 ? Number(p[2]) : 0.5];
const sameList = (a, b, same) => a.length === b.length && a.every((x, i) => same(x, b[i]));
const samePoint = (a, b) => sameList(point(a), point(b), (x, y) => x === y);
const sameStroke = (a, b) =>
  a.color === b.color && Number(a.width) === Number(b.width) && sameList(a.points || [], b.points || [], samePoint);
const sameText = (a, b) =>
  a.text === b.text &&
  Number(a.x) === Number(b.x) &&
  Number(a.y) === Number(b.y) &&
  (a.color ?? null) === (b.color ?? null) &&
  (a.size ?? null) === (b.size ?? null);

/**
 * Whether two sketches are the same drawing. Field by field, not JSON text: the kernel
 * returns the pad's sketch with its keys in another order and pressure filled in.
 */
export function sameSketch(a, b) {
  if (a === b) return Boolean(a);
  if (!a || !b) return false;
  const x = normalizeSketch(a);
  const y = normalizeSketch(b);
  return (
    x.width === y.width &&
    x.height === y.height &&
    x.background === y.background &&
    sameList(x.strokes, y.strokes, sameStroke) &&
    sameList(x.texts, y.texts, sameText)
  );
}

const RUNNING = "A task is running: wait for it or Cancel";
const EMPTY = "Draw something first: the pad is empty";

/**
 * The pad's actions and code pane for one state. `state`: {status, sketch, code,
 * resultKind ('' | 'code' | 'model'), resultSketch (the sketch the result on screen was
 * made from), taskType}. Each action is {disabled, title}; `codeNote` is '' when the code
 * pane shows the code of the result on screen (or the code being written), else why not.
 */
export function padView({ status, sketch, code, resultKind, resultSketch, taskType }) {
  const running = busy(status);
  const drawn = hasStrokes(sketch);
  // A result from before results recorded their sketch ({} or missing) counts as current.
  const known = Array.isArray(resultSketch?.strokes);
  const changed = Boolean(resultKind) && known && !sameSketch(sketch, resultSketch);
  const needsDrawing = (title) =>
    running ? { disabled: true, title: RUNNING } : drawn ? { disabled: false, title } : { disabled: true, title: EMPTY };

  let edit = { disabled: false, title: "Change the result on screen as the prompt says" };
  if (running) edit = { disabled: true, title: RUNNING };
  else if (resultKind === "model")
    edit = { disabled: true, title: "Edit changes generated code, and the result on screen is a mesh: Make 3D first" };
  else if (resultKind !== "code" || !code) edit = { disabled: true, title: "Nothing to edit yet: Make 3D first" };
  else if (changed)
    edit = { disabled: true, title: "The drawing changed since this result: Make 3D to start from the new drawing" };

  let codeNote = "";
  const writing = running && (taskType === "3d" || taskType === "edit");
  if (code && !writing) {
    if (resultKind === "model") codeNote = "Stale: this code is from an earlier result; the preview shows a mesh.";
    else if (resultKind === "code" && changed) codeNote = "Stale: the drawing changed since this code was made.";
  }

  return {
    make3d: needsDrawing("Write Three.js code for the drawing"),
    makeMesh: needsDrawing("Make a mesh (GLB) of the drawing"),
    improve: needsDrawing("Tidy the drawing: straighten lines, close shapes"),
    edit,
    cancel: running ? { disabled: false, title: "Stop the running task" } : { disabled: true, title: "No task is running" },
    codeNote,
  };
}

/** A file-name stem from text: lower case, ASCII letters and digits joined by dashes. */
export function slugify(text, maxLength = 60) {
  const slug = String(text || "")
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return slug.slice(0, maxLength).replace(/-+$/, "");
}

/** A download's file name: after the prompt, else the drawing's labels, else `vibedraw-<kind>`. */
export function downloadName({ prompt, sketch, kind }, extension) {
  const labels = normalizeSketch(sketch)
    .texts.map((t) => t.text)
    .join(" ");
  const stem = slugify(prompt) || slugify(labels) || `vibedraw-${kind || "model"}`;
  return `${stem}.${extension}`;
}
