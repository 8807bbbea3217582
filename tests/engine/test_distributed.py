import os
import subprocess
import sys
import textwrap

import numpy as np
import paddle

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

SCRIPT = textwrap.dedent("""
    import sys
    sys.path[:0] = [{here!r}, {root!r}]
    import paddle
    import paddle.distributed as dist
    import tiny_gan  # registers the tiny method in every process
    from test_trainer import tiny_config


    def worker(out):
        from ppinpaint.engine.trainer import Trainer
        trainer = Trainer(tiny_config(iters=3), output_dir=out)
        trainer.train()
        # Test-only dump of each replica's weights; the trainer itself writes from rank 0 only.
        paddle.save(trainer.model.state_dict(), f"{{out}}/replica{{dist.get_rank()}}.pdparams")


    if __name__ == "__main__":
        dist.spawn(worker, args=(sys.argv[1],), nprocs=2, backend="gloo")
""")


def test_two_process_gloo_run_keeps_replicas_equal(tmp_path):
    script = tmp_path / "run_dp.py"
    script.write_text(SCRIPT.format(here=HERE, root=ROOT))
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "run")], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = tmp_path / "run"
    w0 = paddle.load(str(run / "replica0.pdparams"))
    w1 = paddle.load(str(run / "replica1.pdparams"))
    for role in ("generator", "discriminator"):
        for key, value in w0[role].items():
            np.testing.assert_array_equal(value.numpy(), w1[role][key].numpy(), err_msg=f"{role}.{key}")
    # Rank 0 alone logs and checkpoints.
    assert len(os.listdir(run / "vdl")) == 1
    assert (run / "checkpoints" / "latest").read_text() == "iter_0000003"
