"""Seed program 1: a Dense network on MNIST with Adam.

Run: python examples/mnist_mlp.py DATA_DIR   (DATA_DIR holds the four MNIST IDX .gz files;
without it, the files are downloaded to ~/.ember/datasets/mnist)
"""
import sys

from ember.datasets import mnist
from ember.layers import Dense
from ember.models import Sequential

(x_train, y_train), (x_test, y_test) = mnist.load_data(data_dir=sys.argv[1] if len(sys.argv) > 1 else None)
x_train = x_train.reshape(60000, 784).astype("float32") / 255
x_test = x_test.reshape(10000, 784).astype("float32") / 255

model = Sequential([Dense(128, activation="relu", input_shape=(784,)), Dense(10, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, epochs=5)
model.evaluate(x_test, y_test)
