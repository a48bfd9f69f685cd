// The notebook around the pad, where the host has one the pad can reach: JupyterLab and
// Notebook 7 give widgets a manager that holds the document's context, whose shared model
// inserts cells (as JupyterLab does for IPython's set_next_input). Voilà, marimo, VS Code
// and Colab have none: the caller falls back to the clipboard.

const WIDGET_MIME = "application/vnd.jupyter.widget-view+json";

function outputsOf(cell) {
  try {
    return (typeof cell.getOutputs === "function" ? cell.getOutputs() : cell.outputs) || [];
  } catch {
    return [];
  }
}

/**
 * Insert a code cell holding `source` below the cell whose output shows widget `modelId`.
 * `manager` is the widget manager (anywidget's `model.widget_manager`). Returns whether a
 * cell was inserted.
 */
export function insertCellBelow(manager, modelId, source) {
  let shared;
  try {
    shared = manager?.context?.model?.sharedModel;
  } catch {
    return false;
  }
  if (!shared || typeof shared.insertCell !== "function" || !shared.cells) return false;
  const cells = Array.from(shared.cells);
  const index = cells.findIndex((cell) => outputsOf(cell).some((o) => o?.data?.[WIDGET_MIME]?.model_id === modelId));
  if (index < 0) return false;
  shared.insertCell(index + 1, { cell_type: "code", source });
  return true;
}
