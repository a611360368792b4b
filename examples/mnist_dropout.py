"""Seed program 3: Flatten + Dense + Dropout, logits loss, validation split.

Run: python examples/mnist_dropout.py DATA_DIR
"""
import sys

import ember as keras
from ember.datasets import mnist

(x_train, y_train), (x_test, y_test) = mnist.load_data(data_dir=sys.argv[1] if len(sys.argv) > 1 else None)
x_train, x_test = x_train / 255.0, x_test / 255.0

model = keras.models.Sequential([
    keras.layers.Flatten(input_shape=(28, 28)),
    keras.layers.Dense(128, activation="relu"),
    keras.layers.Dropout(0.2),
    keras.layers.Dense(10, activation="softmax"),
])
model.compile(optimizer=keras.optimizers.Adam(),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
history = model.fit(x_train, y_train, epochs=10, validation_split=0.1)
loss, accuracy = model.evaluate(x_test, y_test)
print("loss:", loss, "accuracy:", accuracy)
