"""Writes the TensorFlow checkpoint fixture of tests/convert/test_tf_checkpoint.py (run once; needs tensorflow).

A TF1 ``tf.compat.v1.train.Saver`` checkpoint, as the official DeepFill v1 release is, with
DeepFill-like variable names and one variable per dtype; ``tf_expected.npz`` holds the values
TensorFlow's own ``tf.train.load_checkpoint`` reads back.
"""
import os

import numpy as np
import tensorflow as tf

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> None:
    """Write tf_ckpt/model.ckpt-7.* and tf_expected.npz."""
    rng = np.random.default_rng(0)
    values = {
        "inpaint_net/conv1/kernel": rng.standard_normal((5, 5, 3, 4)).astype(np.float32),
        "inpaint_net/conv1/bias": rng.standard_normal(4).astype(np.float32),
        "discriminator/dense/kernel": rng.standard_normal((6, 1)).astype(np.float64),
        "half": rng.standard_normal((2, 3)).astype(np.float16),
        "counts": np.arange(-4, 4, dtype=np.int32).reshape(2, 4),
        "global_step": np.array(7, dtype=np.int64),
        "flags": np.array([True, False, True]),
        "bytes": np.arange(250, 256, dtype=np.uint8),
        "empty": np.zeros((0, 3), dtype=np.float32),
    }
    graph = tf.Graph()
    with graph.as_default():  # TF1 graph mode, as the DeepFill release was written
        variables = [tf.compat.v1.Variable(v, name=k) for k, v in values.items()]
        variables.append(tf.compat.v1.Variable(tf.constant([1.5, -2.25, 3.0], dtype=tf.bfloat16), name="bf16"))
        variables.append(tf.compat.v1.Variable(tf.constant(["snap", "deepfill"]), name="names"))
        # A partitioned variable: saved as three row slices, the other dimension full.
        variables.append(tf.compat.v1.get_variable(
            "partitioned", shape=(7, 3), initializer=tf.compat.v1.random_normal_initializer(seed=1),
            partitioner=tf.compat.v1.fixed_size_partitioner(3)))
        saver = tf.compat.v1.train.Saver(variables)
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saver.save(sess, os.path.join(HERE, "tf_ckpt", "model.ckpt"), global_step=7, write_meta_graph=False)
    with open(os.path.join(HERE, "tf_ckpt", "checkpoint"), "w") as f:  # relative, as a moved release folder is
        f.write('model_checkpoint_path: "model.ckpt-7"\n')
    write_sharded()
    expected = {}
    for name, prefix in (("", "tf_ckpt/model.ckpt-7"), ("sharded:", "tf_sharded/model")):
        reader = tf.train.load_checkpoint(os.path.join(HERE, prefix))
        for key in reader.get_variable_to_shape_map():
            value = np.asarray(reader.get_tensor(key))
            if value.dtype == object:
                value = value.astype(bytes)
            elif value.dtype.name == "bfloat16":
                value = value.astype(np.float32)
            expected[name + key] = value
    np.savez(os.path.join(HERE, "tf_expected.npz"), **expected)


def write_sharded() -> None:
    """A TF2 object checkpoint split over three data shards, two variables cut into slices."""
    values = {f"w{i}": tf.Variable(np.arange(16 * 2, dtype=np.float32).reshape(16, 2) + 100 * i) for i in range(4)}
    policy = tf.train.experimental.MaxShardSizePolicy(max_shard_size=100)
    tf.train.Checkpoint(**values).write(os.path.join(HERE, "tf_sharded", "model"),
                                        options=tf.train.CheckpointOptions(experimental_sharding_callback=policy))


if __name__ == "__main__":
    main()
