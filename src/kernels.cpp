#include "kernels.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "context_state.hpp"
#include "vk/capabilities.hpp"

// SPIR-V built from shaders/*.comp (cmake/shaders.cmake): vknorm_spirv_<name>_sg<0|1>_<dtype>
// for a SUBGROUP kernel, vknorm_spirv_<name>_<dtype> for a PLAIN one.
#define VKNORM_DECLARE_MODULE(module)            \
  extern const uint32_t vknorm_spirv_##module[]; \
  extern const size_t vknorm_spirv_##module##_bytes;
#define VKNORM_DECLARE_SUBGROUP(name)   \
  VKNORM_DECLARE_MODULE(name##_sg0_f32) \
  VKNORM_DECLARE_MODULE(name##_sg1_f32) \
  VKNORM_DECLARE_MODULE(name##_sg0_f16) \
  VKNORM_DECLARE_MODULE(name##_sg1_f16)
#define VKNORM_DECLARE_PLAIN(name)  \
  VKNORM_DECLARE_MODULE(name##_f32) \
  VKNORM_DECLARE_MODULE(name##_f16)
#define VKNORM_DECLARE(name, variants) VKNORM_DECLARE_##variants(name)
VKNORM_KERNELS(VKNORM_DECLARE)
#undef VKNORM_DECLARE
#undef VKNORM_DECLARE_PLAIN
#undef VKNORM_DECLARE_SUBGROUP
#undef VKNORM_DECLARE_MODULE

namespace vknorm {
namespace {

struct Spirv {
  const uint32_t* words;
  const size_t* bytes;
};

// [kernel][subgroup path][f16]
#define VKNORM_MODULE(module) {vknorm_spirv_##module, &vknorm_spirv_##module##_bytes}
#define VKNORM_ROW_SUBGROUP(name)                                  \
  {{VKNORM_MODULE(name##_sg0_f32), VKNORM_MODULE(name##_sg0_f16)}, \
   {VKNORM_MODULE(name##_sg1_f32), VKNORM_MODULE(name##_sg1_f16)}},
#define VKNORM_ROW_PLAIN(name)                             \
  {{VKNORM_MODULE(name##_f32), VKNORM_MODULE(name##_f16)}, \
   {VKNORM_MODULE(name##_f32), VKNORM_MODULE(name##_f16)}},
#define VKNORM_ROW(name, variants) VKNORM_ROW_##variants(name)
const Spirv kSpirv[][2][2] = {VKNORM_KERNELS(VKNORM_ROW)};
#undef VKNORM_ROW
#undef VKNORM_ROW_PLAIN
#undef VKNORM_ROW_SUBGROUP
#undef VKNORM_MODULE
static_assert(sizeof(kSpirv) / sizeof(kSpirv[0]) == static_cast<size_t>(KernelId::count_));

#define VKNORM_SUBGROUP_VARIANT_SUBGROUP true
#define VKNORM_SUBGROUP_VARIANT_PLAIN false
#define VKNORM_HAS_VARIANT(name, variants) VKNORM_SUBGROUP_VARIANT_##variants,
const bool kHasSubgroupVariant[] = {VKNORM_KERNELS(VKNORM_HAS_VARIANT)};
#undef VKNORM_HAS_VARIANT
#undef VKNORM_SUBGROUP_VARIANT_PLAIN
#undef VKNORM_SUBGROUP_VARIANT_SUBGROUP

}  // namespace

bool has_subgroup_variant(KernelId id) { return kHasSubgroupVariant[static_cast<size_t>(id)]; }

SpirvModule kernel_spirv(KernelId id, bool subgroup_path, DType dtype) {
  const Spirv& code = kSpirv[static_cast<size_t>(id)][subgroup_path ? 1 : 0][dtype == DType::f16 ? 1 : 0];
  return {code.words, *code.bytes};
}

uint32_t workgroup_size_for(const Capabilities& caps) {
  uint32_t limit = std::min({256u, caps.max_workgroup_invocations, caps.max_workgroup_size_x,
                             caps.max_shared_memory / 16u});
  uint32_t size = 1;
  while (size * 2 <= limit) size *= 2;
  return size;
}

uint32_t kernel_workgroup_size(const Capabilities& caps, KernelId id) {
  const bool team = id == KernelId::team_forward || id == KernelId::team_backward;
  return team ? team_workgroup_size(caps) : workgroup_size_for(caps);
}

uint32_t team_workgroup_size(const Capabilities& caps) {
  const uint32_t wg = workgroup_size_for(caps);
  if (caps.device_type != VK_PHYSICAL_DEVICE_TYPE_CPU) return wg;
  return std::min(wg, 8 * std::max(1u, caps.subgroup_size));
}

const char* kernel_name(KernelId id) {
  switch (id) {
#define VKNORM_NAME(name, variants) \
  case KernelId::name: return #name;
    VKNORM_KERNELS(VKNORM_NAME)
#undef VKNORM_NAME
    case KernelId::count_: break;
  }
  return "unknown";
}

Status KernelCache::init(ContextState& s) {
  std::vector<VkDescriptorSetLayoutBinding> bindings(kSlotCount);
  for (uint32_t i = 0; i < kSlotCount; ++i)
    bindings[i] = {i, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
  VkDescriptorSetLayoutCreateInfo set_info{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
  set_info.bindingCount = kSlotCount;
  set_info.pBindings = bindings.data();
  VkResult r = s.vk.CreateDescriptorSetLayout(s.device, &set_info, s.allocator, &set_layout_);
  if (r != VK_SUCCESS) return Status::vulkan(r, "vkCreateDescriptorSetLayout");

  VkPushConstantRange range{VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(PushConstants)};
  VkPipelineLayoutCreateInfo layout_info{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  layout_info.setLayoutCount = 1;
  layout_info.pSetLayouts = &set_layout_;
  layout_info.pushConstantRangeCount = 1;
  layout_info.pPushConstantRanges = &range;
  r = s.vk.CreatePipelineLayout(s.device, &layout_info, s.allocator, &layout_);
  if (r != VK_SUCCESS) return Status::vulkan(r, "vkCreatePipelineLayout");
  return {};
}

void KernelCache::destroy(ContextState& s) {
  for (auto& [key, kernel] : kernels_) s.vk.DestroyPipeline(s.device, kernel.pipeline, s.allocator);
  kernels_.clear();
  if (layout_) s.vk.DestroyPipelineLayout(s.device, layout_, s.allocator);
  if (set_layout_) s.vk.DestroyDescriptorSetLayout(s.device, set_layout_, s.allocator);
  layout_ = VK_NULL_HANDLE;
  set_layout_ = VK_NULL_HANDLE;
}

Result<Kernel> KernelCache::get(ContextState& s, KernelId id, DType dtype) {
  std::lock_guard<std::mutex> lock(mutex_);
  bool created = false;
  return find_or_create(s, id, dtype, &created);
}

Result<bool> KernelCache::ensure(ContextState& s, KernelId id, DType dtype) {
  std::lock_guard<std::mutex> lock(mutex_);
  bool created = false;
  auto kernel = find_or_create(s, id, dtype, &created);
  if (!kernel) return kernel.status();
  return created;
}

ObjectCounts KernelCache::counts() const {
  std::lock_guard<std::mutex> lock(mutex_);
  ObjectCounts c;
  c.pipelines = static_cast<uint32_t>(kernels_.size());
  c.pipeline_layouts = layout_ ? 1 : 0;
  c.set_layouts = set_layout_ ? 1 : 0;
  return c;
}

Result<Kernel> KernelCache::find_or_create(ContextState& s, KernelId id, DType dtype, bool* created) {
  if (auto it = kernels_.find({id, dtype}); it != kernels_.end()) return it->second;
  if (dtype == DType::f16) VKNORM_TRY(vk::require_float16_storage(s.caps));

  const SpirvModule code = kernel_spirv(id, s.caps.reduction_path == ReductionPath::subgroup, dtype);
  Kernel kernel;
  kernel.workgroup_size = kernel_workgroup_size(s.caps, id);
  auto pipeline = create_pipeline(s, code.words, code.bytes, kernel.workgroup_size, kernel_name(id));
  if (!pipeline) return pipeline.status();
  kernel.pipeline = pipeline.value();
  kernels_[{id, dtype}] = kernel;
  *created = true;
  return kernel;
}

Result<VkPipeline> KernelCache::create_pipeline(ContextState& s, const uint32_t* words, size_t bytes,
                                                uint32_t workgroup_size, const char* name) {
  VkShaderModuleCreateInfo module_info{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
  module_info.codeSize = bytes;
  module_info.pCode = words;
  VkShaderModule module = VK_NULL_HANDLE;
  VkResult r = s.vk.CreateShaderModule(s.device, &module_info, s.allocator, &module);
  if (r != VK_SUCCESS) return Status::vulkan(r, std::string("vkCreateShaderModule(") + name + ")");

  const uint32_t spec_values[2] = {workgroup_size, std::min(workgroup_size, std::max(1u, s.caps.min_subgroup_size))};
  const VkSpecializationMapEntry entries[2] = {{0, 0, 4}, {1, 4, 4}};
  VkSpecializationInfo spec{2, entries, sizeof(spec_values), spec_values};

  VkComputePipelineCreateInfo info{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
  info.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
  info.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  info.stage.module = module;
  info.stage.pName = "main";
  info.stage.pSpecializationInfo = &spec;
  info.layout = layout_;
  VkPipeline pipeline = VK_NULL_HANDLE;
  r = s.vk.CreateComputePipelines(s.device, s.pipeline_cache, 1, &info, s.allocator, &pipeline);
  s.vk.DestroyShaderModule(s.device, module, s.allocator);
  if (r != VK_SUCCESS) return Status::vulkan(r, std::string("vkCreateComputePipelines(") + name + ")");
  return pipeline;
}

Status KernelCache::prepare(ContextState& s, DType dtype) {
  for (uint32_t i = 0; i < static_cast<uint32_t>(KernelId::count_); ++i) {
    auto made = ensure(s, static_cast<KernelId>(i), dtype);
    if (!made) return made.status();
  }
  return {};
}

Status KernelCache::prepare_all(ContextState& s) {
  VKNORM_TRY(prepare(s, DType::f32));
  return s.caps.storage_buffer_16bit ? prepare(s, DType::f16) : Status{};
}

}  // namespace vknorm
