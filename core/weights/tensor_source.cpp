#include "core/weights/tensor_source.h"

#include <mutex>

namespace patchlens {

const TensorInfo* TensorSource::find(const std::string& name) const {
  const std::vector<TensorInfo>& all = tensors();
  std::shared_ptr<const std::unordered_map<std::string, std::size_t>> index;
  {
    static std::mutex building;
    const std::lock_guard lock(building);
    if (!m_index) {
      auto made = std::make_shared<std::unordered_map<std::string, std::size_t>>();
      made->reserve(all.size());
      for (std::size_t i = 0; i < all.size(); ++i) made->emplace(all[i].name, i);  // first wins
      m_index = std::move(made);
    }
    index = m_index;
  }
  const auto it = index->find(name);
  // The index belongs to this list: a copy of the source shares it but has equal names.
  if (it == index->end() || it->second >= all.size() || all[it->second].name != name)
    return nullptr;
  return &all[it->second];
}

}  // namespace patchlens
