import assert from "node:assert/strict";
import { test } from "node:test";
import { insertCellBelow } from "../src/notebook.js";

const view = (id) => ({ output_type: "execute_result", data: { "application/vnd.jupyter.widget-view+json": { model_id: id } } });

function fakeManager(outputs) {
  const inserted = [];
  const cells = outputs.map((o) => ({ getOutputs: () => o }));
  return { inserted, manager: { context: { model: { sharedModel: { cells, insertCell: (i, c) => inserted.push([i, c]) } } } } };
}

test("the cell goes right below the cell that shows this widget", () => {
  const { manager, inserted } = fakeManager([[], [{ output_type: "stream" }], [view("other")], [view("me")], []]);
  assert.equal(insertCellBelow(manager, "me", "x = 1"), true);
  assert.deepEqual(inserted, [[4, { cell_type: "code", source: "x = 1" }]]);
});

test("no notebook (Voilà, marimo, VS Code) or the widget in no cell: nothing inserted", () => {
  assert.equal(insertCellBelow(undefined, "me", "x"), false);
  assert.equal(insertCellBelow({}, "me", "x"), false);
  const { manager, inserted } = fakeManager([[view("other")]]);
  assert.equal(insertCellBelow(manager, "me", "x"), false);
  assert.deepEqual(inserted, []);
});
