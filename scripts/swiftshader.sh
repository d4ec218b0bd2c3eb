#!/usr/bin/env bash
# A second Vulkan implementation, and a newer validation layer, from Debian's
# chromium-common: Google's SwiftShader (libvk_swiftshader.so, self-contained) and the
# Khronos validation layer Chromium ships (libVkLayer_khronos_validation.so, without a
# manifest). Nothing is installed: the package is downloaded (apt-get download, no root
# needed) and unpacked (dpkg -x) into a cache folder, once; a second run downloads nothing.
#
#   scripts/swiftshader.sh            prints the two variables as export lines
#   source scripts/swiftshader.sh     exports them into this shell
#
#   VK_DRIVER_FILES  SwiftShader's ICD json (the loader then sees only SwiftShader)
#   VK_LAYER_PATH    the folder of the newer validation layer's manifest (the loader then
#                    finds that layer instead of Debian's)
#
# Use one or the other, or both:
#   VK_DRIVER_FILES=... build/tests/vknorm_tests              SwiftShader, Debian's layer
#   VK_LAYER_PATH=... build/tests/vknorm_tests                lavapipe, the newer layer
#
# The cache: ${VKNORM_CACHE:-${XDG_CACHE_HOME:-~/.cache}/vknorm}/swiftshader, holding
#   driver/  libvk_swiftshader.so and vk_swiftshader_icd.json (library_path absolute)
#   layer/   libVkLayer_khronos_validation.so and VkLayer_khronos_validation.json
#   version  the chromium-common version they came from
# Delete the folder to fetch the current package again.

vknorm_swiftshader_setup() (
  set -euo pipefail
  local cache="${VKNORM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vknorm}/swiftshader"
  local icd="$cache/driver/vk_swiftshader_icd.json" layer="$cache/layer/VkLayer_khronos_validation.json"
  if [ ! -f "$icd" ] || [ ! -f "$layer" ]; then
    local work
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    # apt-get download fetches as the calling user into the current folder; an index
    # without the package (a fresh container's empty lists) needs an update first.
    if ! (cd "$work" && apt-get download -qq chromium-common) 2>"$work/apt.log"; then
      local sudo=""
      [ "$(id -u)" -ne 0 ] && sudo="sudo"
      echo "swiftshader.sh: apt-get download failed; running apt-get update" >&2
      $sudo apt-get update -qq
      (cd "$work" && apt-get download -qq chromium-common) || {
        cat "$work/apt.log" >&2
        echo "swiftshader.sh: cannot download chromium-common" >&2
        exit 1
      }
    fi
    dpkg -x "$work"/chromium-common_*.deb "$work/pkg"
    local from="$work/pkg/usr/lib/chromium"
    rm -rf "$cache.new"
    mkdir -p "$cache.new/driver" "$cache.new/layer"
    cp "$from/libvk_swiftshader.so" "$cache.new/driver/"
    cp "$from/libVkLayer_khronos_validation.so" "$cache.new/layer/"
    # The package's ICD json names its library relative to itself ("./libvk_swiftshader.so");
    # absolute, the json works from wherever it is read.
    sed "s|\"library_path\": *\"[^\"]*\"|\"library_path\": \"$cache/driver/libvk_swiftshader.so\"|" \
      "$from/vk_swiftshader_icd.json" >"$cache.new/driver/vk_swiftshader_icd.json"
    grep -q "\"$cache/driver/libvk_swiftshader.so\"" "$cache.new/driver/vk_swiftshader_icd.json"
    # The layer's manifest, modelled on Debian's (vulkan-validationlayers'
    # /usr/share/vulkan/explicit_layer.d/VkLayer_khronos_validation.json, less the settings
    # that only vkconfig reads), with the newer layer's own API version: the loader compares
    # it with the application's, and the layer reports it from
    # vkEnumerateInstanceLayerProperties, which a small probe asks.
    local api_version
    api_version="$(layer_api_version "$cache.new/layer/libVkLayer_khronos_validation.so" "$work")"
    write_layer_manifest "$api_version" >"$cache.new/layer/VkLayer_khronos_validation.json"
    dpkg-deb -f "$work"/chromium-common_*.deb Version >"$cache.new/version"
    rm -rf "$cache"
    mv "$cache.new" "$cache"
    echo "swiftshader.sh: chromium-common $(cat "$cache/version") unpacked into $cache (layer API $api_version)" >&2
  fi
  echo "export VK_DRIVER_FILES=$icd"
  echo "export VK_LAYER_PATH=$cache/layer"
)

# The specVersion the layer library reports, as major.minor.patch.
layer_api_version() {
  local so="$1" work="$2"
  cat >"$work/probe.c" <<'EOF'
#include <dlfcn.h>
#include <stdio.h>
#include <vulkan/vulkan_core.h>
int main(int argc, char** argv) {
  void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) { fprintf(stderr, "%s\n", dlerror()); return 1; }
  PFN_vkEnumerateInstanceLayerProperties enumerate =
      (PFN_vkEnumerateInstanceLayerProperties)dlsym(lib, "vkEnumerateInstanceLayerProperties");
  VkLayerProperties props;
  uint32_t count = 1;
  if (!enumerate || enumerate(&count, &props) < 0 || count != 1) return 1;
  printf("%u.%u.%u\n", VK_API_VERSION_MAJOR(props.specVersion), VK_API_VERSION_MINOR(props.specVersion),
         VK_API_VERSION_PATCH(props.specVersion));
  return 0;
}
EOF
  cc -o "$work/probe" "$work/probe.c" -ldl
  "$work/probe" "$so"
}

write_layer_manifest() {
  cat <<EOF
{
    "file_format_version": "1.2.0",
    "layer": {
        "name": "VK_LAYER_KHRONOS_validation",
        "type": "GLOBAL",
        "library_path": "./libVkLayer_khronos_validation.so",
        "api_version": "$1",
        "implementation_version": "1",
        "description": "Khronos Validation Layer (Chromium's build, from Debian's chromium-common)",
        "platforms": [ "LINUX" ],
        "instance_extensions": [
            { "name": "VK_EXT_debug_report", "spec_version": "9" },
            { "name": "VK_EXT_debug_utils", "spec_version": "1" },
            { "name": "VK_EXT_validation_features", "spec_version": "2" },
            { "name": "VK_EXT_layer_settings", "spec_version": "2" }
        ],
        "device_extensions": [
            { "name": "VK_EXT_debug_marker", "spec_version": "4",
              "entrypoints": [ "vkDebugMarkerSetObjectTagEXT", "vkDebugMarkerSetObjectNameEXT",
                               "vkCmdDebugMarkerBeginEXT", "vkCmdDebugMarkerEndEXT",
                               "vkCmdDebugMarkerInsertEXT" ] },
            { "name": "VK_EXT_validation_cache", "spec_version": "1",
              "entrypoints": [ "vkCreateValidationCacheEXT", "vkDestroyValidationCacheEXT",
                               "vkGetValidationCacheDataEXT", "vkMergeValidationCachesEXT" ] },
            { "name": "VK_EXT_tooling_info", "spec_version": "1",
              "entrypoints": [ "vkGetPhysicalDeviceToolPropertiesEXT" ] }
        ]
    }
}
EOF
}

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
  # Sourced: export into the caller's shell, leaving its options as they were.
  _vknorm_swiftshader_exports="$(vknorm_swiftshader_setup)" && eval "$_vknorm_swiftshader_exports"
  unset _vknorm_swiftshader_exports
else
  vknorm_swiftshader_setup
fi
