#include "core/model/families/hf_config_keys.h"

#include <algorithm>
#include <iterator>

namespace patchlens {

bool isHfConfigBookkeeping(const std::string& key) {
  static const char* const kBookkeeping[] = {"architectures",
                                             "model_type",
                                             "transformers_version",
                                             "_name_or_path",
                                             "torch_dtype",
                                             "dtype",
                                             "return_dict",
                                             "output_hidden_states",
                                             "output_attentions",
                                             "torchscript",
                                             "use_bfloat16",
                                             "tie_word_embeddings",
                                             "is_encoder_decoder",
                                             "is_decoder",
                                             "add_cross_attention",
                                             "chunk_size_feed_forward",
                                             "problem_type",
                                             "id2label",
                                             "label2id",
                                             "num_labels",
                                             "finetuning_task",
                                             "tokenizer_class",
                                             "prefix",
                                             "bos_token_id",
                                             "eos_token_id",
                                             "pad_token_id",
                                             "sep_token_id",
                                             "decoder_start_token_id",
                                             "task_specific_params",
                                             "cross_attention_hidden_size",
                                             "tf_legacy_loss",
                                             "_attn_implementation_autoset"};
  return std::any_of(std::begin(kBookkeeping), std::end(kBookkeeping),
                     [&](const char* k) { return key == k; });
}

}  // namespace patchlens
