// data/sentencepiece_backend.cc: the alro_spm module, the only code that
// includes SentencePiece's headers (see sentencepiece_backend.h for why).
#include "data/sentencepiece_backend.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <mutex>
#include <sstream>

// Exported by libsentencepiece (common.h is not installed).
namespace sentencepiece::logging {
void SetMinLogLevel(int v);
}  // namespace sentencepiece::logging

namespace alro::data::spm {

// Above FATAL: SentencePiece writes nothing. Under RTLD_DEEPBIND its
// std::cerr would be libstdc++'s own, never-constructed object (the
// executable holds the copy-relocated one), so it must never log; errors
// still come back as Status.
constexpr int kSilentLogLevel = 100;

namespace {

// Feeds an in-memory list of sentences to the trainer.
class VectorIterator : public sentencepiece::SentenceIterator {
 public:
  explicit VectorIterator(const std::vector<std::string>& sentences) : sentences_(sentences) {}
  bool done() const override { return i_ >= sentences_.size(); }
  void Next() override { ++i_; }
  const std::string& value() const override { return sentences_[i_]; }
  sentencepiece::util::Status status() const override { return sentencepiece::util::Status(); }

 private:
  const std::vector<std::string>& sentences_;
  size_t i_ = 0;
};

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + items[i];
  return out;
}

}  // namespace

class ProcessorImpl : public Processor {
 public:
  std::string LoadSerialized(const std::string& bytes) override {
    const auto status = sp_.LoadFromSerializedProto(bytes);
    return status.ok() ? "" : status.ToString();
  }
  std::string Encode(const std::string& text, std::vector<int>* ids) const override {
    const auto status = sp_.Encode(text, ids);
    return status.ok() ? "" : status.ToString();
  }
  std::string Decode(const std::vector<int>& ids) const override { return sp_.DecodeIds(ids); }
  int PieceToId(const std::string& piece) const override { return sp_.PieceToId(piece); }
  std::string IdToPiece(int id) const override { return sp_.IdToPiece(id); }
  int vocab_size() const override { return sp_.GetPieceSize(); }
  int unk_id() const override { return sp_.unk_id(); }
  int bos_id() const override { return sp_.bos_id(); }
  int eos_id() const override { return sp_.eos_id(); }
  int pad_id() const override { return sp_.pad_id(); }
  bool IsUnknown(int id) const override { return sp_.IsUnknown(id); }

 private:
  sentencepiece::SentencePieceProcessor sp_;
};

class BackendImpl : public Backend {
 public:
  std::unique_ptr<Processor> NewProcessor() override { return std::make_unique<ProcessorImpl>(); }
  std::string Train(const std::vector<std::string>& sentences, const TrainOptions& options, std::string* model,
                    std::string* log) override;
};

std::string BackendImpl::Train(const std::vector<std::string>& sentences, const TrainOptions& options,
                               std::string* model, std::string* log) {
  // The trainer keeps global state (its pretokenizer); one training at a time.
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  std::ostringstream args;
  // num_threads=1 and input_sentence_size=0 (use every sentence, no
  // sampling) make the result a function of the input alone.
  args << "--model_type=" << options.model_type << " --vocab_size=" << options.vocab_size
       << " --character_coverage=" << options.character_coverage << " --num_threads=1"
       << " --input_sentence_size=0 --shuffle_input_sentence=false --hard_vocab_limit=false"
       << " --split_digits=" << (options.split_digits ? "true" : "false") << " --pad_id=3"
       << " --max_sentence_length=16384";
  if (!options.user_defined_symbols.empty()) args << " --user_defined_symbols=" << Join(options.user_defined_symbols);
  sentencepiece::SetRandomGeneratorSeed(1);
  sentencepiece::logging::SetMinLogLevel(kSilentLogLevel);
  VectorIterator it(sentences);
  const auto status = sentencepiece::SentencePieceTrainer::Train(args.str(), &it, model);
  if (log != nullptr) *log = args.str();
  return status.ok() ? "" : status.ToString();
}

}  // namespace alro::data::spm

extern "C" alro::data::spm::Backend* AlroSentencePieceBackend() {
  sentencepiece::logging::SetMinLogLevel(alro::data::spm::kSilentLogLevel);
  static alro::data::spm::BackendImpl backend;
  return &backend;
}
