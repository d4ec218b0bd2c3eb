// Validation of GroupNorm calls, shared by the GPU path and the CPU reference, with
// PyTorch 1.13's messages where PyTorch has one.
#include "ops/norm_lengths.hpp"
#include "vknorm/groupnorm.hpp"

namespace vknorm {

Result<NormGeometry> check_group_norm(const GroupNormParams& p) {
  const std::vector<int64_t>& s = p.shape;
  if (s.size() < 2)  // PyTorch: an IndexError on input.size(1)
    return Status::invalid_argument("x: expected at least 2D input (N, C, *) (got " + std::to_string(s.size()) +
                                    "D input)");
  VKNORM_TRY(detail::check_dims("x", s));
  if (p.num_groups <= 0)  // PyTorch: ZeroDivisionError for 0, this message for < 0
    return Status::invalid_argument("num_groups: Expected num groups to be greater than 0, got " +
                                    std::to_string(p.num_groups));
  NormGeometry g;
  g.outer = static_cast<uint64_t>(s[0]);
  g.channels = static_cast<uint64_t>(s[1]);
  for (size_t i = 2; i < s.size(); ++i) g.spatial *= static_cast<uint64_t>(s[i]);
  const uint64_t groups = static_cast<uint64_t>(p.num_groups);

  // F.group_norm runs _verify_batch_size on [N*C//G, G, *spatial] before the divisibility
  // check: it refuses when N*C//G * spatial == 1 (one value per group in the whole
  // batch), and reports that list as the input size.
  if (g.outer * g.channels / groups * g.spatial == 1) {
    std::vector<int64_t> viewed = {s[0] * s[1] / p.num_groups, p.num_groups};
    viewed.insert(viewed.end(), s.begin() + 2, s.end());
    return Status::invalid_argument("x: Expected more than 1 value per channel when training, got input size " +
                                    detail::shape_string(viewed) + " (x of shape " + detail::shape_string(s) +
                                    " seen as (N*C/num_groups, num_groups, *))");
  }
  if (g.channels % groups != 0)
    return Status::invalid_argument(
        "num_groups: Expected number of channels in input to be divisible by num_groups, but got input of shape " +
        detail::shape_string(s) + " and num_groups=" + std::to_string(p.num_groups));
  if (g.channels == 0)  // PyTorch returns an empty tensor; vknorm refuses, as for BatchNorm
    return Status::invalid_argument("x: the channel dimension C is 0");
  VKNORM_TRY(detail::check_eps(p.eps));

  g.elements = g.outer * g.channels * g.spatial;
  g.stat_groups = g.outer * groups;
  g.group_size = g.channels / groups * g.spatial;
  g.affine_size = g.channels;
  g.uses_batch_stats = true;
  g.updates_running = false;
  return g;
}

}  // namespace vknorm
