"""ember quickstart: trains a small network on the built-in UCI digits set (offline).

Run: python examples/quickstart.py
"""
import ember
from ember import layers
from ember.datasets import digits

ember.utils.set_random_seed(42)
(x_train, y_train), (x_test, y_test) = digits.load_data()
x_train, x_test = x_train / 16.0, x_test / 16.0

model = ember.Sequential([
    ember.Input(shape=(8, 8)),
    layers.Flatten(),
    layers.Dense(64, activation="relu"),
    layers.Dropout(0.1),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.summary()
model.fit(x_train, y_train, epochs=20, batch_size=32, validation_split=0.1, verbose=2)
loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"test accuracy: {accuracy:.4f}")
