"""Data: sources (skimage, folders, downloads: `prepare`, `download`), the prepared-set folder
layout (written and read in `prepared` only), and training patches with their sampling plan
(`patches`).

`download`, `prepare` and `prepared` need no torch: the prepare stages depend on them and on
`srgan.core` only.

May import: srgan.core.
"""
