// The notebook's theme, for the widgets' 3D views: JupyterLab marks its body with
// data-jp-theme-light ("false" in a dark theme) and switches it live. Elsewhere (Notebook
// classic styles, marimo, VS Code) there is no mark, and the views stay light.

/** Is the notebook in a dark theme? */
export const isDark = () => document.body?.dataset?.jpThemeLight === "false";

/** Call `onChange(isDark())` whenever JupyterLab switches theme; returns a stop function. */
export function watchTheme(onChange) {
  const observer = new MutationObserver(() => onChange(isDark()));
  if (document.body) observer.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light"] });
  return () => observer.disconnect();
}
