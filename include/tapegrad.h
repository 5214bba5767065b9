/* tapegrad.h: the whole public API. Include this, link tapegrad (or tapegrad-f64 with
 * -DTG_DOUBLE; pkg-config sets both). Read docs/tour.md for a reading order. */
#ifndef TAPEGRAD_H
#define TAPEGRAD_H

#include "autograd/tensor.h"
#include "autograd/status.h"
#include "autograd/tape.h"
#include "autograd/op.h"
#include "autograd/rng.h"
#include "autograd/gradcheck.h"
#include "autograd/graph.h"
#include "autograd/walk.h"

#include "ops/binary.h"
#include "ops/fused.h"
#include "ops/reduce.h"
#include "ops/softmax.h"
#include "ops/matmul.h"
#include "ops/unary.h"
#include "ops/shape.h"
#include "ops/embedding.h"
#include "ops/loss.h"
#include "ops/dropout.h"

#include "nn/params.h"
#include "nn/layers.h"
#include "nn/cells.h"
#include "nn/rnn.h"
#include "nn/trainer.h"
#include "nn/gradflow.h"
#include "nn/optim.h"
#include "nn/clip.h"
#include "nn/batcher.h"
#include "nn/checkpoint.h"
#include "io/safetensors.h"
#include "io/utf8.h"
#include "nn/bptt.h"
#include "nn/bptt_check.h"

#endif
