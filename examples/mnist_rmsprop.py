"""Seed program 2: Dense 512 on MNIST with RMSprop and one-hot labels.

Run: python examples/mnist_rmsprop.py DATA_DIR
"""
import sys

from ember.datasets import mnist
from ember.layers import Dense
from ember.models import Sequential
from ember.utils import to_categorical

(train_images, train_labels), (test_images, test_labels) = mnist.load_data(
    data_dir=sys.argv[1] if len(sys.argv) > 1 else None)
train_images = train_images.reshape((60000, 28 * 28)).astype("float32") / 255
test_images = test_images.reshape((10000, 28 * 28)).astype("float32") / 255
train_labels = to_categorical(train_labels)
test_labels = to_categorical(test_labels)

network = Sequential()
network.add(Dense(512, activation="relu", input_shape=(28 * 28,)))
network.add(Dense(10, activation="softmax"))
network.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
network.fit(train_images, train_labels, epochs=5, batch_size=128)
test_loss, test_acc = network.evaluate(test_images, test_labels)
print("test_acc:", test_acc)
