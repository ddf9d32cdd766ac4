"""The monthly refresh (`phm refresh`, docs/refresh.md): the programme's stages in order, as
the processor's scheduled job, with a record in the workspace from which a stopped refresh is
resumed. `refresh.record` keeps the record; `refresh.run` runs the stages."""
