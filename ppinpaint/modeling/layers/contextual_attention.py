"""Contextual attention (Yu et al., CVPR 2018, Sec. 3.2), batched, with each sample's own mask.

What the layer computes is the official one (TF ``contextual_attention`` of v1.0.0 and daa233's
port), on features ``f`` (foreground, to fill) and ``b`` (background, to copy from), here the
same tensor:

1. background 3x3 patches of ``b`` downscaled by ``rate`` are the matching filters, each
   normalised to unit length (``patch_norm``: TF ``w / max(|w|, 1e-4)`` or daa233
   ``w / sqrt(sum(w^2 + 1e-4))``);
2. the score of every background patch ``l`` for every foreground position ``p`` is their inner
   product (the official convolution of ``f`` with those filters);
3. fuse: the score matrix is convolved with a 3x3 identity along its diagonal, once with both
   indices in raster order and once in column-major order, which favours coherent patches;
4. patches touching the hole (mean of the mask over the 3x3 window != 0) get score 0 before and
   weight 0 after the softmax (x ``softmax_scale``) over ``l`` — the official ``yi *= mm``
   twice, so hole patches still count in the softmax denominator;
5. output: the attention-weighted sum of the 2r x 2r raw patches of ``b`` at stride ``r``
   (the official transposed convolution), / 4.

Differences from both official codes, on purpose:

- **A mask per sample.** Both official codes take ``m = m[0]``: every sample in a batch uses the
  first sample's mask (a bug). Here a batch of two different masks equals two batch-one runs.
- **No Python loop over samples**: scores, softmax and pasting are batched matrix products; the
  pasting's per-sample transposed convolution becomes ``raw_patches @ attention`` and a
  fixed-weight col2im, so the batch stays dynamic when exported.
- **Bounded memory.** The [L, P] score matrix grows with the fourth power of the image side
  (1 GiB per sample at 1024^2). When the whole matrix's temporaries fit ``chunk_mib``, it is computed
  at once in few large ops (``_forward_whole``, also the exported form); otherwise, and for the flow
  image, foreground positions are processed in chunks of rows whose scores fit ``chunk_mib``; the
  fuse's neighbours across a chunk's edge come from a halo of rows, so a chunked run computes the
  same numbers as an unchunked one.
- The attention-offset flow image is computed only on request (visualisation), off the hot path.

``resize`` picks the nearest-neighbour convention of the downscaling: ``tf`` (v1.0.0's
neuralgym ``resize``, ``align_corners=True``, index ``round(i (in-1)/(out-1))``) or ``torch``
(daa233: index ``floor(i in/out)``); they pick different pixels.
"""
from typing import Optional, Tuple

import numpy as np
import paddle
import paddle.nn.functional as F
from paddle import nn

PATCH_NORMS = ("tf", "daa233")
RESIZES = ("tf", "torch")
FLOW_NORMS = ("sample", "running")


def _dim(x: paddle.Tensor, axis: int):
    """A dimension as an int in eager mode, as a 0-d tensor while tracing an export (size unknown)."""
    return x.shape[axis] if paddle.in_dynamic_mode() else paddle.shape(x)[axis]


def _as_tensor(v, dtype: str) -> paddle.Tensor:
    return paddle.to_tensor(v, dtype=dtype) if isinstance(v, (int, float)) else v.astype(dtype)


def nearest_indices(in_size, out_size, mode: str) -> paddle.Tensor:
    """Source index of each output pixel of a nearest-neighbour resize, TF (aligned) or torch."""
    # The rule is float32 arithmetic (TF's roundf(i * float((in-1)/(out-1))), torch's floor(i * float(in/out)));
    # it is done in float64 with each step rounded to float32, which gives the float32 result bit for bit
    # (a float64 sum, product or quotient of float32 values rounds to the float32 one). Paddle 3.3.1
    # Inference computes these shape-derived float32 scalars wrongly under oneDNN; float64 stays off it.
    def f32(t: paddle.Tensor) -> paddle.Tensor:
        return t.astype("float32").astype("float64")

    i = paddle.arange(out_size, dtype="float64")
    n_in, n_out = _as_tensor(in_size, "float64"), _as_tensor(out_size, "float64")
    if mode == "tf":
        # 0 when out == 1; roundf of a non-negative value is floor(v + 0.5)
        scale = f32((n_in - 1.0) / paddle.maximum(n_out - 1.0, paddle.to_tensor(1.0, dtype="float64")))
        idx = paddle.floor(f32(f32(i * scale) + 0.5))
    else:
        idx = paddle.floor(f32(i * f32(n_in / n_out)))
    return paddle.minimum(idx.astype("int64"), _as_tensor(in_size, "int64") - 1)


def resize_nearest(x: paddle.Tensor, size, mode: str) -> paddle.Tensor:
    """Nearest-neighbour resize of an NCHW tensor to ``size`` under the ``tf`` or ``torch`` rule."""
    if paddle.in_dynamic_mode() and tuple(x.shape[2:]) == tuple(size):
        return x
    x = paddle.gather(x, nearest_indices(_dim(x, 2), size[0], mode), axis=2)
    return paddle.gather(x, nearest_indices(_dim(x, 3), size[1], mode), axis=3)


def zero_pad(x: paddle.Tensor, before: int, after: int) -> paddle.Tensor:
    """Zero padding of H and W by concatenation: paddle2onnx's Pad leaves garbage in the border."""
    for axis in (2, 3):
        edge = paddle.zeros_like(x.slice([axis], [0], [1]))
        x = paddle.concat([edge] * before + [x] + [edge] * after, axis=axis)
    return x


def extract_patches(x: paddle.Tensor, ksize: int, stride: int = 1) -> paddle.Tensor:
    """TF 'SAME' (zero) padded ``ksize`` patches at ``stride``: [N,C,H,W] -> [N, C*k*k, L].

    Channel-major (c, ky, kx) order like ``unfold``; written as slices whose bounds do not depend
    on H and W (which must be multiples of ``stride``), so it exports with a dynamic size.
    """
    c = x.shape[1]
    total = ksize - stride
    x = zero_pad(x, total // 2, total - total // 2)

    def end(k: int):
        return -(ksize - 1 - k) if ksize - 1 - k else None

    taps = [x[:, :, ky:end(ky):stride, kx:end(kx):stride] for ky in range(ksize) for kx in range(ksize)]
    return paddle.stack(taps, axis=2).reshape([0, c * ksize * ksize, -1])


def _one_hot_taps(c: int, ksize: int, transposed: bool = False) -> paddle.Tensor:
    """[C*k*k, 1, k, k] one-hot kernels: channel (c, ky, kx) picks tap (ky, kx) of input channel c, or tap
    (kx, ky) when ``transposed`` (the patches of a transposed image, in the original tap order)."""
    taps = np.eye(ksize * ksize, dtype=np.float32).reshape(ksize * ksize, ksize, ksize)
    if transposed:
        taps = taps.transpose(0, 2, 1)
    return paddle.to_tensor(np.tile(taps, (c, 1, 1)).reshape(c * ksize * ksize, 1, ksize, ksize))


def unfold_patches(x: paddle.Tensor, ksize: int, stride: int, transposed: bool = False) -> paddle.Tensor:
    """TF 'SAME' zero-padded ``ksize`` patches at ``stride`` as channels: [N,C,H,W] -> [N, C*k*k, H/s, W/s].

    The same numbers as :func:`extract_patches` (channel-major), as one grouped convolution with
    one-hot kernels, which inference engines run as a single cheap op. ``transposed``: ``x`` is an
    image with H and W swapped, and the taps keep the order of the original image's.
    """
    c, total = x.shape[1], ksize - stride      # even: TF 'SAME' pads both sides alike
    return F.conv2d(x, _one_hot_taps(c, ksize, transposed), stride=stride, padding=total // 2, groups=c)


def _phase_kernels(ksize: int, stride: int, transposed: bool) -> np.ndarray:
    """[s*s, k*k, 3, 3] one-hot kernels: output phase (a, b) sums the taps that land on it from the 3x3
    neighbouring patch positions (with a 2s kernel at stride s each phase gets 2 x 2 taps)."""
    w = np.zeros((stride * stride, ksize, ksize, 3, 3), np.float32)
    pad = (ksize - stride) // 2
    for a in range(stride):
        for b in range(stride):
            for di in (-1, 0, 1):
                for dj in (-1, 0, 1):
                    ky, kx = stride * di + a + pad, stride * dj + b + pad
                    if 0 <= ky < ksize and 0 <= kx < ksize:
                        w[a * stride + b, ky, kx, 1 - di, 1 - dj] = 1.0
    if transposed:
        w = w.transpose(0, 2, 1, 3, 4)
    return w.reshape(stride * stride, ksize * ksize, 3, 3)


def fold_patches(cols: paddle.Tensor, c: int, ksize: int, stride: int, transposed: bool = False) -> paddle.Tensor:
    """Overlap-add of [N, C*k*k, h, w] patches at ``stride`` (TF 'SAME' crop), the layout of :func:`unfold_patches`."""
    # The official paste is a transposed convolution whose kernel is each sample's patches; fixed
    # kernels after a batched product keep the batch dynamic in an exported graph. Eagerly a grouped
    # transposed convolution with one-hot kernels is the fastest; OpenVINO and oneDNN run that one
    # slowly, so the traced form puts the channels on the batch axis, sums each output phase's taps
    # with one small convolution and interleaves the phases with a pixel shuffle (the same numbers).
    if paddle.in_dynamic_mode():
        total = ksize - stride
        return F.conv2d_transpose(cols, _one_hot_taps(c, ksize, transposed), stride=stride, padding=total // 2,
                                  groups=c)
    h, w = _dim(cols, 2), _dim(cols, 3)
    phases = F.conv2d(cols.reshape([-1, ksize * ksize, h, w]),
                      paddle.to_tensor(_phase_kernels(ksize, stride, transposed)), padding=1)
    return F.pixel_shuffle(phases, stride).reshape([-1, c, h * stride, w * stride])


class ContextualAttention(nn.Layer):
    """DeepFill v1's contextual attention; ``forward(f, b, mask) -> (y, flow or None)``.

    ``mask`` ([N,1,Hm,Wm], 1 = hole) may have any resolution that is a multiple of the
    features' (the generator passes the image-size mask); without it every patch is valid.
    """

    def __init__(self, ksize: int = 3, rate: int = 2, fuse_k: int = 3, softmax_scale: float = 10.0,
                 fuse: bool = True, patch_norm: str = "tf", resize: str = "tf", flow_norm: str = "sample",
                 chunk_mib: float = 256.0) -> None:
        super().__init__()
        for name, value, allowed in (("patch_norm", patch_norm, PATCH_NORMS), ("resize", resize, RESIZES),
                                     ("flow_norm", flow_norm, FLOW_NORMS)):
            if value not in allowed:
                raise ValueError(f"ContextualAttention {name} must be one of {allowed}, got {value!r}")
        if ksize % 2 != 1 or fuse_k % 2 != 1 or rate % 2 or rate < 2:
            raise ValueError("ksize and fuse_k must be odd and rate even (TF 'SAME' padding is then "
                             f"symmetric), got ksize {ksize}, fuse_k {fuse_k}, rate {rate}")
        self.ksize, self.rate, self.fuse_k = int(ksize), int(rate), int(fuse_k)
        self.softmax_scale, self.fuse = float(softmax_scale), bool(fuse)
        self.patch_norm, self.resize, self.flow_norm = patch_norm, resize, flow_norm
        self.chunk_mib = float(chunk_mib)

    # ---- steps -----------------------------------------------------------------------
    def _normalise(self, w: paddle.Tensor) -> paddle.Tensor:
        """Unit-length matching filters, [N, C*k*k, L] normalised along axis 1."""
        if self.patch_norm == "tf":
            return w / paddle.maximum(paddle.sqrt((w * w).sum(axis=1, keepdim=True)), paddle.to_tensor(1e-4))
        return w / paddle.sqrt((w * w + 1e-4).sum(axis=1, keepdim=True))

    def _valid_patches(self, mask: Optional[paddle.Tensor], like: paddle.Tensor, feat, grid) -> paddle.Tensor:
        """[N, L, 1] float: 1 where the background patch holds no hole pixel (all 1 without a mask)."""
        if mask is None:
            mask = paddle.zeros_like(like[:, :1])
        mask = mask.astype("float32")
        if self.resize == "tf":
            # TF v1 resizes the mask to the feature map (resize_mask_like), then by 1/rate.
            mask = resize_nearest(resize_nearest(mask, feat, "tf"), grid, "tf")
        else:
            mask = resize_nearest(mask, grid, "torch")
        # Official: mean over the window == 0; a sum is the same test for a non-negative mask, and
        # oneDNN inference crashes on this reduce_mean (Paddle 3.3.1).
        m = extract_patches(mask, self.ksize).sum(axis=1)
        return (m == 0.0).astype("float32").unsqueeze(-1)

    def _shift_fuse(self, s: paddle.Tensor, valid: paddle.Tensor) -> paddle.Tensor:
        """Sum of s[l+d, j+d] over the fuse diagonal (zero outside), columns gated by ``valid``[d]."""
        half = self.fuse_k // 2
        out = s
        for d in range(1, half + 1):
            ahead = F.pad(s[:, d:, d:], [0, 0, 0, d, 0, d])
            behind = F.pad(s[:, :-d, :-d], [0, 0, d, 0, d, 0])
            out = out + ahead * valid[d] + behind * valid[-d]
        return out

    def _fused_scores(self, wn_t: paddle.Tensor, x: paddle.Tensor, grid, rows) -> paddle.Tensor:
        """Fused scores [N, L, P_chunk] for the foreground raster rows ``rows`` = [r0, r1) (eager)."""
        gh, gw = grid
        p_all = gh * gw
        r0, r1 = rows
        if not self.fuse:
            return paddle.bmm(wn_t, x[:, :, r0 * gw:r1 * gw])
        half = self.fuse_k // 2
        # The raster-order fuse reaches `half` columns across a row edge, the column-major one
        # `half` rows up and down, wrapping from the last row to the first (next column): scores
        # of a cyclic halo of 2*half rows around the chunk are enough.
        if r1 - r0 + 4 * half >= gh:
            start, q = 0, paddle.arange(p_all, dtype="int64")
            s = paddle.bmm(wn_t, x)
        else:
            start = (r0 - 2 * half) % gh
            j = paddle.arange((r1 - r0 + 4 * half) * gw, dtype="int64")
            q = ((start + j // gw) % gh) * gw + j % gw                    # raster index of each column
            s = paddle.bmm(wn_t, paddle.gather(x, q, axis=2))
        valid = {d: ((q + d >= 0) & (q + d < p_all)).astype("float32") for d in range(-half, half + 1) if d}
        s1 = self._shift_fuse(s, valid)

        # Column-major fuse: index c = col*gh + row, shifted by e, both for l (all) and p (chunk).
        def colmajor_shift(raster: paddle.Tensor, e: int):
            c = (raster % gw) * gh + raster // gw + e
            ok = ((c >= 0) & (c < p_all)).astype("float32")
            c = c % p_all          # out-of-range indices are gated off by `ok`; keep them in range
            return (c % gh) * gw + c // gh, ok

        p = paddle.arange(r0 * gw, r1 * gw, dtype="int64")
        l_idx = paddle.arange(p_all, dtype="int64")
        out = None
        for e in range(-half, half + 1):
            pq, p_ok = colmajor_shift(p, e)
            pos = ((pq // gw - start) % gh) * gw + pq % gw                 # column of pq in s1
            lq, l_ok = colmajor_shift(l_idx, e)
            term = paddle.gather(paddle.gather(s1, pos, axis=2), lq, axis=1)
            term = term * l_ok.unsqueeze(1) * p_ok.unsqueeze(0)
            out = term if out is None else out + term
        return out

    def _chunk_rows(self, n: int, grid: Tuple[int, int]) -> int:
        """Foreground rows per chunk so one chunk's score temporaries stay within ``chunk_mib``."""
        gh, gw = grid
        per_row = n * gh * gw * gw * 4 * 6        # bytes: scores, fuse and softmax temporaries
        return max(1, min(gh, int(self.chunk_mib * 2 ** 20 // per_row)))

    def _fits_whole(self, n: int, grid: Tuple[int, int]) -> bool:
        """Whether :meth:`_forward_whole`'s score temporaries fit ``chunk_mib`` (its fuse holds padded copies
        and ``fuse_k`` shifted slices of the [P, L] scores, counted as ``fuse_k``^2, beside the scores, softmax
        and gradients)."""
        p = grid[0] * grid[1]
        return n * p * p * 4 * (self.fuse_k ** 2 + 6) <= self.chunk_mib * 2 ** 20

    # ---- the whole-matrix form (exported graphs) ------------------------------------------
    def _forward_whole(self, f: paddle.Tensor, b: paddle.Tensor, mask: Optional[paddle.Tensor]) -> paddle.Tensor:
        """y of :meth:`forward` with all foreground positions at once, in few large ops."""
        c, r, k = f.shape[1], self.rate, self.ksize
        h, w = _dim(f, 2), _dim(f, 3)
        gh, gw = h // r, w // r
        f_s = resize_nearest(f, (gh, gw), self.resize)
        b_s = f_s if b is f else resize_nearest(b, (gh, gw), self.resize)
        wn = self._normalise(unfold_patches(b_s, k, 1).reshape([0, c * k * k, -1]))    # [N, K, L]
        x = unfold_patches(f_s, k, 1).reshape([0, c * k * k, -1])                     # [N, K, P]
        valid = self._valid_patches(mask, f_s, (h, w), (gh, gw)).reshape([0, 1, gh, gw])
        s = paddle.matmul(x, wn, transpose_x=True)                          # [N, P, L], raster order
        if self.fuse:
            s = self._fuse_diag(s)
            s = s.reshape([0, gh, gw, gh, gw]).transpose([0, 2, 1, 4, 3]).reshape([0, gh * gw, gh * gw])
            s = self._fuse_diag(s)
            # Both indices are now column-major, the order of the transposed image: the softmax over l
            # and the paste do not depend on the order, so the score matrix stays as it is and the
            # (smaller) images are transposed instead.
            b, valid = b.transpose([0, 1, 3, 2]), valid.transpose([0, 1, 3, 2])
        valid = valid.reshape([0, 1, -1])                                   # [N, 1, L]
        attn = F.softmax(s * (valid * self.softmax_scale), axis=-1)
        # the official second `yi *= mm` (after the softmax) is folded into the pasted patches
        raw = unfold_patches(b, 2 * r, r, transposed=self.fuse)
        cols = paddle.matmul(raw.reshape([0, c * 4 * r * r, -1]) * valid, attn, transpose_y=True)
        cols = cols.reshape([0, c * 4 * r * r, _dim(raw, 2), _dim(raw, 3)])
        y = fold_patches(cols, c, 2 * r, r, transposed=self.fuse) / 4.0
        return y.transpose([0, 1, 3, 2]) if self.fuse else y

    def _fuse_diag(self, s: paddle.Tensor) -> paddle.Tensor:
        """[N, P, L] convolved with the fuse_k identity kernel along its diagonal (zero padded)."""
        # Shifted slices of the zero-padded scores, not a convolution with the identity kernel: that one has a
        # single channel, which OpenVINO runs far below speed, with reorders of the whole matrix. Padded by
        # concatenation (zero_pad): paddle2onnx writes F.pad's value from uninitialised memory.
        half = self.fuse_k // 2
        padded = zero_pad(s.unsqueeze(1), half, half).squeeze(1)
        p, l = _dim(s, 1), _dim(s, 2)
        out = None
        for d in range(self.fuse_k):
            term = padded[:, d:d + p, d:d + l]
            out = term if out is None else out + term
        return out

    # ---- forward ---------------------------------------------------------------------
    def forward(self, f: paddle.Tensor, b: Optional[paddle.Tensor] = None, mask: Optional[paddle.Tensor] = None,
                return_flow: bool = False) -> Tuple[paddle.Tensor, Optional[paddle.Tensor]]:
        """y [N,C,H,W] (and the offset flow image [N,3,Hm,Wm] in [0,1] when ``return_flow``)."""
        b = f if b is None else b
        if not paddle.in_dynamic_mode():      # traced for export: sizes unknown, no flow image
            return self._forward_whole(f, b, mask), None
        if f.ndim != 4 or f.shape != b.shape:
            raise ValueError(f"ContextualAttention needs f and b of one NCHW shape, got {f.shape} and {b.shape}")
        h, w, r = f.shape[2], f.shape[3], self.rate
        if h % r or w % r:
            raise ValueError(f"feature size {h}x{w} must be a multiple of the attention rate {r}")
        # The whole-matrix form runs forward + backward in 0.6x the chunked form's CPU time (DeepFill at
        # 256^2: 335 vs 564 ms, docs/speed.md); the chunked form bounds memory and gives the flow image.
        if not return_flow and self._fits_whole(f.shape[0], (h // r, w // r)):
            return self._forward_whole(f, b, mask), None
        return self._forward_chunked(f, b, mask, return_flow)

    def _forward_chunked(self, f: paddle.Tensor, b: paddle.Tensor, mask: Optional[paddle.Tensor],
                         return_flow: bool) -> Tuple[paddle.Tensor, Optional[paddle.Tensor]]:
        """:meth:`forward` over chunks of foreground rows (eager)."""
        c, r = f.shape[1], self.rate
        h, w = f.shape[2], f.shape[3]
        grid = (h // r, w // r)
        raw = extract_patches(b, 2 * r, stride=r)                        # [N, C*(2r)^2, L]
        f_s = resize_nearest(f, grid, self.resize)
        b_s = f_s if b is f else resize_nearest(b, grid, self.resize)
        wn_t = self._normalise(extract_patches(b_s, self.ksize)).transpose([0, 2, 1])   # [N, L, C*k*k]
        x = extract_patches(f_s, self.ksize)                               # [N, C*k*k, P]
        valid = self._valid_patches(mask, f_s, (h, w), grid)              # [N, L, 1]

        step = self._chunk_rows(f.shape[0], grid)
        cols, offsets = [], []
        for r0 in range(0, grid[0], step):
            scores = self._fused_scores(wn_t, x, grid, (r0, min(r0 + step, grid[0])))
            attn = F.softmax(scores * valid * self.softmax_scale, axis=1) * valid
            cols.append(paddle.bmm(raw, attn))
            if return_flow:
                offsets.append(paddle.argmax(attn.detach(), axis=1))
        cols = cols[0] if len(cols) == 1 else paddle.concat(cols, axis=2)
        y = fold_patches(cols.reshape([0, c * 4 * r * r, grid[0], grid[1]]), c, 2 * r, r) / 4.0
        flow = None
        if return_flow:
            n = f.shape[0]
            idx = paddle.concat(offsets, axis=1).numpy().reshape([n, grid[0], grid[1]])
            flow = flow_image(attention_offsets(idx), self.flow_norm)
            scale = (mask.shape[2] // grid[0]) if mask is not None else r
            flow = paddle.to_tensor(flow).transpose([0, 3, 1, 2])
            flow = F.interpolate(flow, scale_factor=scale, mode="nearest")
        return y, flow


# ---- the attention-offset flow image (visualisation only) ----------------------------------
def attention_offsets(argmax: np.ndarray) -> np.ndarray:
    """[N,h,w] argmax patch indices -> [N,2,h,w] (row, col) displacement to the matched patch."""
    n, h, w = argmax.shape
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    return np.stack([argmax // w - rows, argmax % w - cols], axis=1)


def _color_wheel() -> np.ndarray:
    """The Middlebury colour wheel (55 hues), as in both official codes."""
    segments = ((15, (255, None, 0)), (6, (None, 255, 0)), (4, (0, 255, None)),
                (11, (0, None, 255)), (13, (None, 0, 255)), (6, (255, 0, None)))
    rows = []
    for length, spec in segments:
        ramp = np.floor(255 * np.arange(length) / length)
        seg = np.zeros((length, 3))
        for ch, value in enumerate(spec):
            seg[:, ch] = value if value is not None else ramp
        rows.append(seg)
    wheel = np.concatenate(rows)
    # Falling channels count down: YG's red, CB's green, MR's blue.
    for start, length, ch in ((15, 6, 0), (25, 11, 1), (49, 6, 2)):
        wheel[start:start + length, ch] = 255 - np.floor(255 * np.arange(length) / length)
    return wheel


def flow_image(offsets: np.ndarray, norm: str = "sample") -> np.ndarray:
    """[N,2,h,w] displacements -> [N,h,w,3] float32 colour image in [0,1] (official ``flow_to_image``).

    ``norm="running"`` reproduces the official normalisation by the largest radius seen so far
    in the batch (sample i depends on samples before it); ``"sample"`` normalises each alone.
    """
    u = offsets[:, 0].astype(np.float64)
    v = offsets[:, 1].astype(np.float64)
    rad = np.sqrt(u ** 2 + v ** 2)
    maxrad = rad.reshape(len(rad), -1).max(axis=1)
    if norm == "running":
        maxrad = np.maximum.accumulate(np.maximum(maxrad, -1.0))
    denom = (maxrad + np.finfo(float).eps)[:, None, None]
    u, v = u / denom, v / denom
    wheel = _color_wheel()
    ncols = len(wheel)
    rad = np.sqrt(u ** 2 + v ** 2)
    fk = (np.arctan2(-v, -u) / np.pi + 1) / 2 * (ncols - 1) + 1
    k0 = np.floor(fk).astype(int)
    k1 = k0 + 1
    k1[k1 == ncols + 1] = 1
    frac = (fk - k0)[..., None]
    col0, col1 = wheel[k0 - 1] / 255, wheel[k1 - 1] / 255     # this order of operations, bit for bit
    col = (1 - frac) * col0 + frac * col1
    inside = (rad <= 1)[..., None]
    col = np.where(inside, 1 - rad[..., None] * (1 - col), col * 0.75)
    return (np.floor(255 * col).astype(np.uint8).astype(np.float32) / 255.0)
