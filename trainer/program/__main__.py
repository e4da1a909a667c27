"""`python -m trainer.program`: train, checkpoint, export (see README.md)."""

import os
import sys

# TensorFlow's C++ INFO and WARNING lines (op placement, CUDA plugin notes) would bury the own
# log in a pod log; set TF_CPP_MIN_LOG_LEVEL=0 to see them again.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from trainer.program.train import main

sys.exit(main())
