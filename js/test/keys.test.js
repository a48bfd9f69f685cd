import assert from "node:assert/strict";
import { test } from "node:test";
import { passesThrough } from "../src/keys.js";

test("only save and the command palette pass from the widget to the notebook page", () => {
  assert.ok(passesThrough({ key: "s", ctrlKey: true }));
  assert.ok(passesThrough({ key: "S", metaKey: true, shiftKey: true }));
  assert.ok(passesThrough({ key: "C", ctrlKey: true, shiftKey: true }));
  // Command-mode keys and the cell-running / cell-editing combinations stay in the widget.
  for (const key of ["m", "a", "b", "d", "x", "c", "v", "y", "M", "Enter", "Escape", "ArrowUp"]) {
    assert.ok(!passesThrough({ key }), key);
    assert.ok(!passesThrough({ key, shiftKey: true }), `Shift+${key}`);
  }
  for (const key of ["Enter", "a", "Backspace", "z", "c"]) assert.ok(!passesThrough({ key, ctrlKey: true }), `Ctrl+${key}`);
  assert.ok(!passesThrough({ key: "Enter", altKey: true }));
  assert.ok(!passesThrough({ key: "s", ctrlKey: true, altKey: true }));
});
