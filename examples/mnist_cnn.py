"""Seed CNN: Conv2D + MaxPooling2D + Dense on MNIST with Adam.

Run: python examples/mnist_cnn.py DATA_DIR   (DATA_DIR holds the four MNIST IDX .gz files)
"""
import sys

from ember.datasets import mnist
from ember.layers import Conv2D, Dense, Flatten, MaxPooling2D
from ember.models import Sequential

(x_train, y_train), (x_test, y_test) = mnist.load_data(data_dir=sys.argv[1] if len(sys.argv) > 1 else None)
x_train = x_train.reshape(-1, 28, 28, 1).astype("float32") / 255
x_test = x_test.reshape(-1, 28, 28, 1).astype("float32") / 255

model = Sequential([
    Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)),
    MaxPooling2D((2, 2)),
    Flatten(),
    Dense(128, activation="relu"),
    Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, epochs=5)
model.evaluate(x_test, y_test)
