"""torch kernels behind zoo.layers' Conv2D, Conv2DTranspose, BatchNormalization and
GroupNormalization: the only backend-specific layer code in zoo.

Keras' torch backend (3.15) copies each NHWC input of a convolution to NCHW and again to
channels_last, pads "same" inputs with an explicit copy, computes transposed
convolutions in full and crops them, and builds BatchNorm/GroupNorm from single ops
(square, mean, rsqrt...) each of which autograd records. On torch, zoo's layers call
the functions below instead: the NHWC tensor viewed as channels_last NCHW (no copy),
the padding given to the kernel, torch's fused batch and group norms. The weights, the
layouts the user sees and the results are Keras' (tests/test_layers.py compares them);
each returns None where it has no fast path, and the layer then calls Keras. TensorFlow
and JAX keep Keras' code (XLA and the TF runtime fuse these ops themselves): there every
function here returns None.
"""

from zoo.core.backend import BACKEND

def same_padding(size, kernel, stride):
    """(before, after) padding of one spatial axis in Keras' "same" convolution."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def transpose_crops(kernel, stride, padding):
    """(left, right) crops of the full transposed convolution that give Keras' output
    (no output_padding, no dilation)."""
    if padding == "valid":
        return 0, min(0, kernel - max(kernel, stride))  # negative: extend
    pad = stride + kernel - 2
    left = min(pad // 2 + pad % 2, kernel - 1)
    return kernel - 1 - left, kernel - 1 - (pad - left)


if BACKEND == "torch":
    import torch
    import torch.nn.functional as F

    def _nchw(x):  # an NHWC tensor as NCHW: a channels_last view of the same memory
        return x.movedim(-1, 1)

    # A CPU without oneDNN's bfloat16 (no AVX-512 BF16: torch 2.13 on an AVX2-only EPYC) runs
    # bfloat16 convolutions through slow_conv2d, whose backward refuses a weight whose layout
    # is not the plain one: a channels_last weight with one output channel, a transposed
    # weight with one input channel ("grad_weight must be contiguous"; Keras' own Conv2D
    # fails the same way there). On that path the weight is given in the plain layout.
    _SLOW_BFLOAT16 = not getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)()

    def _weight(w, layout=None):
        if _SLOW_BFLOAT16 and w.dtype == torch.bfloat16 and w.device.type == "cpu":
            return w.contiguous()
        return w if layout is None else w.contiguous(memory_format=layout)

    def conv2d(x, kernel, strides, padding, groups=1, bias=None):
        """NHWC `x`, Keras kernel (kh, kw, in/groups, out), no dilation -> NHWC."""
        if padding == "same":
            pads = [same_padding(x.shape[1 + i], kernel.shape[i], strides[i]) for i in range(2)]
            if any(before != after for before, after in pads):
                return None
            padding = (pads[0][0], pads[1][0])
        else:
            padding = 0
        w = _weight(kernel.permute(3, 2, 0, 1), torch.channels_last)
        return F.conv2d(_nchw(x), w, bias, stride=tuple(strides), padding=padding, groups=groups).movedim(1, -1)

    def conv2d_transpose(x, kernel, strides, padding):
        """NHWC `x`, Keras kernel (kh, kw, out, in), no dilation or output_padding -> NHWC."""
        crops = [transpose_crops(kernel.shape[i], strides[i], padding) for i in range(2)]
        if any(right < 0 or not 0 <= left - right < stride
               for (left, right), stride in zip(crops, strides)):
            return None  # an asymmetric crop torch cannot express
        w = _weight(kernel.permute(3, 2, 0, 1))
        y = F.conv_transpose2d(_nchw(x), w, stride=tuple(strides), padding=tuple(c[0] for c in crops),
                               output_padding=tuple(c[0] - c[1] for c in crops))
        return y.movedim(1, -1)

    def batch_norm(x, gamma, beta, mean, variance, epsilon, training):
        """Channels-last BatchNorm. Training: `(y, batch mean, biased batch variance)`,
        the statistics detached; inference: `(y, None, None)` from `mean`, `variance`."""
        if not training:
            return F.batch_norm(_nchw(x), mean, variance, gamma, beta, False, 0.0, epsilon).movedim(1, -1), None, None
        y, batch_mean, invstd = torch.native_batch_norm(_nchw(x), gamma, beta, None, None, True, 0.0, epsilon)
        return y.movedim(1, -1), batch_mean.detach(), invstd.detach().pow(-2) - epsilon

    class _GroupNorm(torch.autograd.Function):
        """torch's fused group norm on a channels_last NCHW view. Called through its own
        autograd node, not `F.group_norm`, for two things torch's own node gets wrong on
        channels_last: its backward segfaults (torch 2.13, CPU) when the input needs no
        gradient (GroupNorm as a model's first layer), and its kernel reads the incoming
        gradient as laid out like the input, which autograd does not promise."""

        @staticmethod
        def forward(ctx, x, gamma, beta, groups, epsilon):
            n, c, h, w = x.shape
            ctx.sizes = (n, c, h * w, groups)
            y, mean, rstd = torch.native_group_norm(x, gamma, beta, *ctx.sizes, epsilon)
            ctx.save_for_backward(x, gamma, mean, rstd)
            return y

        @staticmethod
        def backward(ctx, grad):
            x, gamma, mean, rstd = ctx.saved_tensors
            grad = grad.contiguous(memory_format=torch.channels_last)  # as x is
            # All three gradients, always: torch 2.13's channels_last kernel crashes
            # (segfault) when the input's gradient is not asked for.
            grads = torch.ops.aten.native_group_norm_backward(grad, x, mean, rstd, gamma, *ctx.sizes, [True] * 3)
            return *(g if needed else None for g, needed in zip(grads, ctx.needs_input_grad)), None, None

    def group_norm(x, gamma, beta, groups, epsilon):
        """Channels-last GroupNorm of a 4-d NHWC `x` (torch's fused kernel)."""
        if x.dim() != 4 or not x.is_contiguous():
            return None
        return _GroupNorm.apply(_nchw(x), gamma, beta, groups, epsilon).movedim(1, -1)

else:
    def conv2d(x, kernel, strides, padding, groups=1, bias=None):
        return None

    def conv2d_transpose(x, kernel, strides, padding):
        return None

    def batch_norm(x, gamma, beta, mean, variance, epsilon, training):
        return None

    def group_norm(x, gamma, beta, groups, epsilon):
        return None
