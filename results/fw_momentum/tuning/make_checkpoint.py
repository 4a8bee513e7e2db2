"""Tuning checkpoint: the seed-003 CNN after 2 epochs of SGD (lr 0.05, momentum 0.9, batch 128, seed 0).

    python results/fw_momentum/tuning/make_checkpoint.py /tmp/fwp/ck2.weights.h5
"""
import sys

import numpy as np

from tf_sfw._keras import keras
from tf_sfw.models import mnist_cnn

d = np.load("/work/shared/data/keras/datasets/mnist.npz")
x = d["x_train"][..., None].astype("float32") / 255
y = d["y_train"]
xt = d["x_test"][..., None].astype("float32") / 255
yt = d["y_test"]
keras.utils.set_random_seed(0)
m = mnist_cnn()
m.compile(keras.optimizers.SGD(0.05, momentum=0.9), "sparse_categorical_crossentropy", ["accuracy"])
m.fit(x, y, batch_size=128, epochs=2, verbose=0, shuffle=True)
m.save_weights(sys.argv[1])
print("base", m.evaluate(xt, yt, batch_size=1000, verbose=0))
