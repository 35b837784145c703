"""TensorFlow 2.15 reference for `TRAIN_ONLY=mobilenet cargo bench --bench train`: the TF
transfer-learning tutorial's model (MobileNetV2 at 160x160 with `preprocess_input`, frozen,
GlobalAveragePooling2D -> Dropout(0.2) -> Dense(1) logits), `fit` steps of batch 32 with Adam
and BinaryCrossentropy(from_logits=True), then fine-tuning from layer 100 with RMSprop. No
augmentation layers (the Rust bench times the model step alone, as here).

    pip install tensorflow-cpu==2.15.1
    TF_ENABLE_ONEDNN_OPTS=1 python benches/reference/train_mobilenet_tf.py

Random weights and data: speed does not depend on the values. Prints images/s (median of
repeated timings) and the peak RSS of the process.
"""
import resource
import statistics
import time

import numpy as np
import tensorflow as tf

base = tf.keras.applications.MobileNetV2(input_shape=(160, 160, 3), include_top=False, weights=None)
base.trainable = False
inputs = tf.keras.Input(shape=(160, 160, 3))
x = tf.keras.applications.mobilenet_v2.preprocess_input(inputs)
x = base(x, training=False)
x = tf.keras.layers.GlobalAveragePooling2D()(x)
x = tf.keras.layers.Dropout(0.2)(x)
outputs = tf.keras.layers.Dense(1)(x)
model = tf.keras.Model(inputs, outputs)
loss = tf.keras.losses.BinaryCrossentropy(from_logits=True)
metric = tf.keras.metrics.BinaryAccuracy(threshold=0, name="accuracy")

rng = np.random.default_rng(0)
steps = 8
images = rng.random((32 * steps, 160, 160, 3), dtype=np.float32) * 255
labels = rng.integers(0, 2, (32 * steps, 1)).astype(np.float32)


def measure(name):
    model.fit(images[:64], labels[:64], batch_size=32, epochs=1, verbose=0)  # trace + warm up
    rates = []
    for _ in range(5):
        start = time.perf_counter()
        model.fit(images, labels, batch_size=32, epochs=1, verbose=0, shuffle=False)
        rates.append(32 * steps / (time.perf_counter() - start))
    print(f"train/{name} (TF fit): {statistics.median(rates):.1f} img/s (runs: {', '.join(f'{r:.1f}' for r in rates)})")


model.compile(optimizer=tf.keras.optimizers.Adam(1e-4), loss=loss, metrics=[metric])
measure("mobilenet_v2_step_b32")
base.trainable = True
for layer in base.layers[:100]:
    layer.trainable = False
model.compile(optimizer=tf.keras.optimizers.RMSprop(1e-5), loss=loss, metrics=[metric])
measure("mobilenet_v2_finetune100_b32")
print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")
