"""The main job in Keras, timed: the course recipe (InceptionV3 cut at mixed7, frozen,
Flatten -> Dense(1024, relu) -> Dropout(0.2) -> Dense(1, sigmoid), RMSprop(1e-4), the
course's ImageDataGenerator augmentation, flow_from_directory at 150x150, batch 20) and
`model.fit` of EPOCHS epochs of STEPS steps with VALIDATION_STEPS validation steps, on a
folder of JPEGs (benches/reference/make_jpeg_folder.py). Random weights: speed does not
depend on them. Prints each epoch's wall time (the first includes graph tracing).

    TF_ENABLE_ONEDNN_OPTS=1 python benches/reference/epoch_tf.py /tmp/jpeg_folder
    (beside: cargo run --release --example cats_vs_dogs -- --data /tmp/jpeg_folder --epochs 3 \\
        --steps-per-epoch 20 --validation-steps 10 --timing)
"""
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf  # noqa: E402

root = sys.argv[1]
epochs = int(os.environ.get("EPOCHS", 3))
steps = int(os.environ.get("STEPS", 20))
validation_steps = int(os.environ.get("VALIDATION_STEPS", 10))

base = tf.keras.applications.InceptionV3(input_shape=(150, 150, 3), include_top=False, weights=None)
for layer in base.layers:
    layer.trainable = False
x = tf.keras.layers.Flatten()(base.get_layer("mixed7").output)
x = tf.keras.layers.Dense(1024, activation="relu")(x)
x = tf.keras.layers.Dropout(0.2)(x)
x = tf.keras.layers.Dense(1, activation="sigmoid")(x)
model = tf.keras.Model(base.input, x)
model.compile(optimizer=tf.keras.optimizers.RMSprop(learning_rate=1e-4), loss="binary_crossentropy", metrics=["accuracy"])

augmenting = tf.keras.preprocessing.image.ImageDataGenerator(
    rescale=1.0 / 255, rotation_range=40, width_shift_range=0.2, height_shift_range=0.2, shear_range=0.2,
    zoom_range=0.2, horizontal_flip=True)
train = augmenting.flow_from_directory(os.path.join(root, "train"), batch_size=20, class_mode="binary",
                                       target_size=(150, 150))
validation = tf.keras.preprocessing.image.ImageDataGenerator(rescale=1.0 / 255).flow_from_directory(
    os.path.join(root, "validation"), batch_size=20, class_mode="binary", target_size=(150, 150))


class Timer(tf.keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        print(f"keras epoch {epoch + 1}: {time.perf_counter() - self.start:.2f} s "
              f"({steps} steps + {validation_steps} validation steps)", flush=True)


print(f"TensorFlow {tf.__version__}, oneDNN {os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'default')}")
model.fit(train, steps_per_epoch=steps, epochs=epochs, validation_data=validation, validation_steps=validation_steps,
          verbose=0, callbacks=[Timer()])
