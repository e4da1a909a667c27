"""The TensorFlow training program that runs inside a training Job's container.

`python -m trainer.program --model unet --data DIR_OR_GS_URI --output DIR_OR_GS_URI` trains a
segmentation model on the Oxford-IIIT Pet layout and exports it in the format the inference
server loads. It imports nothing of the Django side, the sandbox or the inference server; the
control plane follows it through the progress lines documented in README.md.
"""
