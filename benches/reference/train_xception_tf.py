"""TensorFlow 2.15 reference for `TRAIN_ONLY=xception cargo bench --bench train`: the Keras guide
"Transfer learning & fine-tuning" in its fine-tuning phase: Xception at 150x150 behind
`Rescaling(1/127.5, offset=-1)`, called as `base(x, training=False)`, GlobalAveragePooling2D ->
Dropout(0.2) -> Dense(1) logits, `base.trainable = True`, `Adam(1e-5)`,
BinaryCrossentropy(from_logits=True) and BinaryAccuracy(); `fit` steps of batch 32, no
augmentation layers (the Rust bench times the model step alone, as here).

    pip install tensorflow-cpu==2.15.1
    TF_ENABLE_ONEDNN_OPTS=1 python benches/reference/train_xception_tf.py

Random weights and data: speed does not depend on the values. Prints images/s (median of
repeated timings, and the best) and the peak RSS of the process.
"""
import resource
import statistics
import time

import numpy as np
import tensorflow as tf

base = tf.keras.applications.Xception(input_shape=(150, 150, 3), include_top=False, weights=None)
inputs = tf.keras.Input(shape=(150, 150, 3))
x = tf.keras.layers.Rescaling(scale=1 / 127.5, offset=-1)(inputs)
x = base(x, training=False)
x = tf.keras.layers.GlobalAveragePooling2D()(x)
x = tf.keras.layers.Dropout(0.2)(x)
outputs = tf.keras.layers.Dense(1)(x)
model = tf.keras.Model(inputs, outputs)
base.trainable = True
model.compile(
    optimizer=tf.keras.optimizers.Adam(1e-5),
    loss=tf.keras.losses.BinaryCrossentropy(from_logits=True),
    metrics=[tf.keras.metrics.BinaryAccuracy()],
)

rng = np.random.default_rng(0)
steps = 4
images = rng.random((32 * steps, 150, 150, 3), dtype=np.float32) * 255
labels = rng.integers(0, 2, (32 * steps, 1)).astype(np.float32)
model.fit(images[:64], labels[:64], batch_size=32, epochs=1, verbose=0)  # trace + warm up
rates = []
for _ in range(5):
    start = time.perf_counter()
    model.fit(images, labels, batch_size=32, epochs=1, verbose=0, shuffle=False)
    rates.append(32 * steps / (time.perf_counter() - start))
print(
    f"train/xception_finetune_b32 (TF fit): {statistics.median(rates):.1f} img/s (best {max(rates):.1f}; "
    f"runs: {', '.join(f'{r:.1f}' for r in rates)})"
)
print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")
