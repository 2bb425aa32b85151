"""Runs nvcc_train with tiny_model (what a build's train.py does with its model.py)."""
import os
import sys

import nvcc_train
import tiny_model

sys.exit(nvcc_train.main(tiny_model, os.path.dirname(os.path.abspath(__file__)), sys.argv[1:]))
