// The device buffers of one norm call, for every kind. Tensors (x, y, dy, dx) are in the
// call's layout and dtype; everything else is float32. A buffer the call does not need
// may be left empty.
#pragma once

#include "vknorm/recorder.hpp"

namespace vknorm {

struct NormForwardBuffers {
  BufferRef x, y;
  BufferRef weight, bias;               // affine_size floats, when given
  BufferRef running_mean, running_var;  // C floats, when tracked; updated in training
  BufferRef save_mean, save_invstd;     // stat_groups floats, written when batch statistics are used
  BufferRef workspace;                  // <kind>_workspace_size() bytes
  BufferRef residual;                   // like x, with Epilogue::residual
};

struct NormBackwardBuffers {
  BufferRef x, dy, dx;
  BufferRef weight;                     // when given
  BufferRef save_mean, save_invstd;     // from the forward, when batch statistics were used
  BufferRef running_mean, running_var;  // when the forward used running statistics
  BufferRef dweight, dbias;             // written when weight / bias are given
  BufferRef workspace;
  BufferRef y;                          // the forward's output, with Epilogue::relu
  BufferRef dresidual;                  // like x, written with Epilogue::residual
};

}  // namespace vknorm
