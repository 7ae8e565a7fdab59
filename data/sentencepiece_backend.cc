// data/sentencepiece_backend.cc: the only file that includes SentencePiece's
// headers (see sentencepiece_backend.h for why).
#include "data/sentencepiece_backend.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>
#include <unistd.h>

#include <cstdio>
#include <mutex>
#include <sstream>

namespace alro::data::spm {
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

// Redirects fd 2 into a temporary file for its lifetime: the trainer logs
// hundreds of lines to stderr, which we keep and show only on failure.
class ScopedStderrCapture {
 public:
  ScopedStderrCapture() {
    std::fflush(stderr);
    file_ = std::tmpfile();
    if (file_ == nullptr) return;
    saved_ = ::dup(2);
    if (saved_ >= 0) ::dup2(::fileno(file_), 2);
  }
  ~ScopedStderrCapture() { Release(); }
  std::string Release() {
    std::string text;
    if (file_ == nullptr) return text;
    std::fflush(stderr);
    if (saved_ >= 0) {
      ::dup2(saved_, 2);
      ::close(saved_);
      saved_ = -1;
    }
    std::rewind(file_);
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), file_)) > 0) text.append(buf, n);
    std::fclose(file_);
    file_ = nullptr;
    return text;
  }

 private:
  std::FILE* file_ = nullptr;
  int saved_ = -1;
};

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + items[i];
  return out;
}

}  // namespace

struct Processor::Impl {
  sentencepiece::SentencePieceProcessor sp;
};

Processor::Processor() : impl_(std::make_unique<Impl>()) {}
Processor::~Processor() = default;

std::string Processor::LoadSerialized(const std::string& bytes) {
  const auto status = impl_->sp.LoadFromSerializedProto(bytes);
  return status.ok() ? "" : status.ToString();
}

std::string Processor::Encode(const std::string& text, std::vector<int>* ids) const {
  const auto status = impl_->sp.Encode(text, ids);
  return status.ok() ? "" : status.ToString();
}

std::string Processor::Decode(const std::vector<int>& ids) const { return impl_->sp.DecodeIds(ids); }
int Processor::PieceToId(const std::string& piece) const { return impl_->sp.PieceToId(piece); }
std::string Processor::IdToPiece(int id) const { return impl_->sp.IdToPiece(id); }
int Processor::vocab_size() const { return impl_->sp.GetPieceSize(); }
int Processor::unk_id() const { return impl_->sp.unk_id(); }
int Processor::bos_id() const { return impl_->sp.bos_id(); }
int Processor::eos_id() const { return impl_->sp.eos_id(); }
int Processor::pad_id() const { return impl_->sp.pad_id(); }
bool Processor::IsUnknown(int id) const { return impl_->sp.IsUnknown(id); }

std::string Train(const std::vector<std::string>& sentences, const TrainOptions& options, std::string* model,
                  std::string* log) {
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
  VectorIterator it(sentences);
  ScopedStderrCapture capture;
  const auto status = sentencepiece::SentencePieceTrainer::Train(args.str(), &it, model);
  if (log != nullptr) *log = capture.Release();
  return status.ok() ? "" : status.ToString();
}

}  // namespace alro::data::spm
