"""The offline pipeline: recognise shapes, build a scene, write Three.js code, improve a
drawing, and inflate outlines into meshes written as glTF.

Pure functions of sketches and plain data: nothing here imports the engine, the server or
the widget (docs/architecture.md).
"""
