"""Infrastructure every role uses: one error type (`errors`); params, read and checked
(`config`, its machinery and the stage views in `sections`, the study's switches in
`study_code`), and what dvc.yaml declares for a stage (`declared`); console and logging
(`console`); atomic files and safe checkpoints (`artifacts`); device / precision / process group
(`runtime`, `launch`); image files and 8-bit geometry without torch (`images`); the tensor edge
(`tensors`); the typed records that cross stage boundaries (`records`: training's;
`evaluation_records`: evaluation's); and the one table of metrics (`metric_table`).

May import: nothing of srgan outside core.
"""
