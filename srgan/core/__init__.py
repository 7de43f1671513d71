"""Infrastructure every role uses: one error type (`errors`), typed params (`config`),
console and logging (`console`), atomic files and safe checkpoints (`artifacts`),
device / precision / process group (`runtime`, `launch`), image files and 8-bit
geometry without torch (`images`), the tensor edge (`tensors`), and the typed
records that cross stage boundaries (`records`).

Imports nothing from other srgan subpackages.
"""
