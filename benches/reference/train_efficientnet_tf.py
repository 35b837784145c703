"""TensorFlow 2.15 reference for `TRAIN_ONLY=efficientnet cargo bench --bench train`: keras.io's
"Image classification via fine-tuning with EfficientNet" in its fine-tuning phase:
EfficientNetB0 at 224x224 (built as `weights="imagenet"` builds it, without the download) on
raw 0..255 pixels, GlobalAveragePooling2D -> BatchNormalization() -> Dropout(0.2) ->
Dense(120, softmax), the model's last 20 layers but the batch norms trainable (`unfreeze_model`),
`Adam(1e-5)` with categorical cross-entropy and accuracy; `fit` steps of batch 32, no
augmentation layers (the Rust bench times the model step alone, as here).

    pip install tensorflow-cpu==2.15.1
    TF_ENABLE_ONEDNN_OPTS=1 python benches/reference/train_efficientnet_tf.py

Random weights and data: speed does not depend on the values. Prints images/s (median of
repeated timings, and the best) and the peak RSS of the process.
"""
import resource
import statistics
import time

import numpy as np
import tensorflow as tf
from keras.src.applications import efficientnet
from keras.src.engine import training

efficientnet.data_utils.get_file = lambda *args, **kwargs: "unused.h5"
load_weights, training.Model.load_weights = training.Model.load_weights, lambda self, *args, **kwargs: None
inputs = tf.keras.layers.Input(shape=(224, 224, 3))
model = tf.keras.applications.EfficientNetB0(include_top=False, input_tensor=inputs, weights="imagenet")
training.Model.load_weights = load_weights
model.trainable = False
x = tf.keras.layers.GlobalAveragePooling2D(name="avg_pool")(model.output)
x = tf.keras.layers.BatchNormalization()(x)
x = tf.keras.layers.Dropout(0.2, name="top_dropout")(x)
outputs = tf.keras.layers.Dense(120, activation="softmax", name="pred")(x)
model = tf.keras.Model(inputs, outputs, name="EfficientNet")
for layer in model.layers[-20:]:
    if not isinstance(layer, tf.keras.layers.BatchNormalization):
        layer.trainable = True
model.compile(optimizer=tf.keras.optimizers.Adam(1e-5), loss="categorical_crossentropy", metrics=["accuracy"])

rng = np.random.default_rng(0)
steps = 4
images = rng.random((32 * steps, 224, 224, 3), dtype=np.float32) * 255
labels = np.eye(120, dtype=np.float32)[rng.integers(0, 120, 32 * steps)]
model.fit(images[:64], labels[:64], batch_size=32, epochs=1, verbose=0)  # trace + warm up
rates = []
for _ in range(5):
    start = time.perf_counter()
    model.fit(images, labels, batch_size=32, epochs=1, verbose=0, shuffle=False)
    rates.append(32 * steps / (time.perf_counter() - start))
print(
    f"train/efficientnet_b0_finetune20_b32 (TF fit): {statistics.median(rates):.1f} img/s (best {max(rates):.1f}; "
    f"runs: {', '.join(f'{r:.1f}' for r in rates)})"
)
print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")
