#include "app/cli/command_line.h"

#include <charconv>
#include <limits>
#include <optional>
#include <sstream>

#include "core/weights/config_values.h"

namespace patchlens::cli {
namespace {

const char* kSharedOptions = R"(Model and preprocessing options (the GUI's defaults):
  --weights W          xavier | xavier-normal | torch-default | dct | FILE
                       (.safetensors .npy .npz .pth .pt .bin .gguf) [xavier]
                       A checkpoint's own preprocessing (config.json,
                       preprocessor_config.json beside it, GGUF metadata) is
                       the default; the options below still win.
  --seed N             seed of the random initializers              [0]
  --key NAME           tensor holding the patch-embedding weight in FILE
  --bias-key NAME      tensor holding its bias
  --img-size N|HxW     model input size                              [224]
  --patch-size P       patch size (a weight file fixes it)           [16]
  --embed-dim D        embedding width (a weight file fixes it)      [768]
  --resize MODE        crop | squash | pad | max-patches             [crop]
  --max-patches N      max-patches resize (SigLIP 2 NaFlex): the whole image, aspect
                       kept, to at most N patches (each image its own size) [256]
  --crop-pct F         crop mode: resize the shorter side to size/F  [0.9]
  --interp MODE        bicubic | bilinear | nearest (PIL-exact)      [bicubic]
  --norm N             inception | imagenet | clip | none | m,m,m/s,s,s [inception]
  --remainder MODE     pixels past the last whole patch: crop | pad  [crop]
  --no-exif            ignore the EXIF orientation (as PIL-based training does)
  --fast-decode        decode large JPEGs at 1/2..1/8 scale when the model input is
                       far smaller: several times faster, no longer bit-equal to
                       PIL + torchvision (up to a few /255 per pixel)
  --max-pixels N       refuse larger images (decompression bombs)    [100000000]
  --max-decode-mb N    refuse images whose decode needs more memory  [256]
  --max-scans N        refuse JPEGs with more progressive scans      [500]
  --max-output-mb N    refuse weights whose float32 copy, patch matrix,
                       embedding or forward outputs would be larger  [256]
  --max-memory-mb N    refuse work whose plan (weights, model input, token
                       matrices, attention) needs more memory; never more
                       than the machine's available memory           [2048]
  --allow-nonfinite    write NaN/Inf outputs with a warning instead of refusing
  --threads N          compute threads, 0 = all cores                [0]
  --heads N            attention heads of a weight file's transformer: overrides its
                       metadata, config.json and the guess from the width [from the file]
)";

std::string usageLine(Command c) {
  switch (c) {
    case Command::Info:
      return "usage: patchlens-cli info FILE [options]\n\nWhat an image or a weight/array file "
             "holds, and what PatchLens would do with it.\n";
    case Command::Preprocess:
      return "usage: patchlens-cli preprocess IMAGE -o X.npy [options]\n\nWrites the model input: "
             "float32 [C, H, W] after resize, crop and normalisation.\n";
    case Command::Embed:
      return "usage: patchlens-cli embed (IMAGE | --tensor X.npy) -o Y.npy|Y.csv "
             "[options]\n\nWrites the patch embedding: float32 [N, D], tokens in row-major grid "
             "order\n(token r*cols + c is patch row r, column c).\n";
    case Command::Batch:
      return "usage: patchlens-cli batch DIR -o OUTDIR [-r] [--plot KIND ...] [options]\n"
             "       patchlens-cli batch DIR --weights FILE --layer L|final [--pool cls|mean|none] "
             "-o OUTDIR\n\nEmbeds "
             "every image in DIR (by content or extension; -r: and its subfolders) "
             "into\nOUTDIR/<name>.npy, one decoder per core (or --threads N), going on past bad "
             "files:\nthey are listed at the end and the exit status is 1 if any failed. Each "
             "--plot KIND\n(see export --help) also writes OUTDIR/<name>-<kind>.png.\n\n"
             "  --layer L|final      a ViT encoder's tokens_L [T, D] (or the final norm) per "
             "image\n"
             "  --pool cls|mean|none the cls row or the mean of the patch rows: [D] per image, "
             "and\n"
             "                       OUTDIR/features.npy [N, D] + index.csv (path,row)  [none]\n"
             "  --shard K/N          only part K (1..N) of the sorted file list; pooled "
             "features go\n"
             "                       to features-K-of-N.npy and index-K-of-N.csv\n"
             "  --resume             keep outputs that already exist and read back whole\n";
    case Command::Export:
      return "usage: patchlens-cli export IMAGE --plot KIND -o FILE.png|.svg|.pdf [figure options] "
             "[options]\n"
             "       patchlens-cli export IMAGE --data WHAT -o FILE.npy|.csv [options]\n\n"
             "Draws one figure of IMAGE's patch embedding, or writes the numbers behind one.\n\n"
             "  --plot KIND          channel:K           channel K as a map over the image\n"
             "                       token:R,C           the token of patch (R, C) as a heatmap "
             "tile\n"
             "                       token-line:R,C      the same token as a line over the "
             "channels\n"
             "                       channels:A-B        channels A..B (at most 64) as small maps\n"
             "                       filters             every filter of the layer\n"
             "                       filter-pca          the filters' first 28 principal "
             "components\n"
             "                       pca                 the tokens' first 3 principal components "
             "as RGB\n"
             "                       similarity:R,C      cosine similarity of every token to (R, "
             "C)\n"
             "                       posembed            similarity of the position embeddings\n"
             "                                           (needs a weight file that has them)\n"
             "                       histogram           the distribution of all embedding values\n"
             "                       reconstruction[:K]  the image recovered from the embedding\n"
             "                                           (from its top K principal components)\n"
             "  --width W --height H figure size in points                 [the figure's own]\n"
             "  --scale S            PNG pixels per point (2 = 144 dpi)    [2]\n"
             "  --dpi D              PNG resolution, instead of --scale\n"
             "  --colormap NAME      viridis magma inferno plasma cividis turbo gray RdBu_r "
             "coolwarm\n"
             "                                            [RdBu_r for signed values]\n"
             "  --data WHAT          embedding [N, D] | token:R,C [D] | channel:K [rows, cols] |\n"
             "                       filters [D, C, P, P] (CSV: one filter per line) |\n"
             "                       tokens:L [T, D] | attention:L [H, T, T] (a transformer's)\n"
             "                       | attention-mask:L[:T] (.npz: attentions, th_attn\n"
             "                       [H, rows*P, cols*P], DINO's class-token masks)\n"
             "\nWith a weight file that holds a whole ViT encoder:\n"
             "  --plot KIND          attention:L[,H]     block L's attention from the query "
             "(mean\n"
             "                                           over heads, or head H)\n"
             "                       attention-heads:L   one map per head and their mean\n"
             "                       attention-mask:L[:T] each head's patches holding the top\n"
             "                                           T of its attention mass over the\n"
             "                                           image (DINO; T = 0.6)\n"
             "                       rollout             attention rollout through every block\n"
             "                       attention-distance  mean attention distance per head and "
             "block\n"
             "                       token-norms         every token's L2 norm at every layer\n"
             "  --layer L|final      token plots show tokens_L (0 = input to block 1, L = "
             "output\n"
             "                       of block L) or the final norm   [the patch embedding]\n"
             "  --source S           token plots at --layer L = 1..depth: tokens, or block L's\n"
             "                       queries, keys or values as they enter the softmax (after\n"
             "                       RoPE), heads side by side: --plot pca --source keys is\n"
             "                       DINO's key-feature PCA                       [tokens]\n"
             "  --query R,C|cls      the attention / rollout query: a patch or a prefix token\n"
             "                       (cls, dist, reg N)                  [cls, else the centre]\n"
             "  --foreground T       pca: DINOv2 foreground step, threshold T in [0, 1] on "
             "the\n"
             "                       scaled first component; --foreground-flip takes its "
             "other end\n"
             "\nWith a classifier (a ViT with its head; IMAGE or --tensor X.npy, as predict):\n"
             "  --plot KIND          prediction[:K]      the top K classes (5) as probability "
             "bars\n"
             "                       gradcam[:K]         Grad-CAM of class K  [the top class]\n"
             "                       relevance[:K]       Chefer et al. relevance of class K\n"
             "  --data explain[:K] -o F.npz             the arrays of explain --class K\n"
             "  --labels FILE        class names, as predict\n"
             "\nTwo images, one model (IMAGE is A):\n"
             "  --compare B          --plot matches[:K]       the K best mutual nearest "
             "neighbours\n"
             "                                                (patch tokens, cosine) as lines "
             "[50]\n"
             "                              joint-pca         one PCA fitted on both images' "
             "tokens\n"
             "                              similarity-to:R,C A's patch (R, C) over B, best "
             "match marked\n"
             "                       --data matches -o F.csv  every mutual pair: "
             "rA,cA,rB,cB,similarity\n"
             "                       --layer L as above; --foreground T: matches between "
             "foreground\n"
             "                       patches only, joint-pca with the DINOv2 foreground step\n"
             "\nOne image, two models:\n"
             "  --compare-weights W2 --plot pca|similarity:R,C|attention:L[,H] side by side; "
             "layer l\n"
             "                       of --weights with layer round(l * depth2 / depth1) of W2\n";
    case Command::Forward:
      return "usage: patchlens-cli forward (IMAGE | --tensor X.npy) --weights FILE -o OUT.npz "
             "[--attention] [--qkv] [--heads N] [options]\n"
             "       patchlens-cli forward (IMAGE | --tensor X.npy) --weights FILE -o OUT.npy "
             "--layer L|final [options]\n"
             "       patchlens-cli forward (IMAGE | --tensor X.npy) --weights FILE -o OUT.npz "
             "--qkv --layer L [options]\n\n"
             "Runs the whole ViT encoder of FILE and writes float32 arrays (.npz, stored):\n"
             "  patch_embedding  [N, D]     the patch embedding, tokens in row-major grid order\n"
             "  tokens_0         [T, D]     the input to block 1: prefix tokens (cls, dist, "
             "registers)\n"
             "                              then the patches, position embedding added, any "
             "pre-norm applied\n"
             "  tokens_L         [T, D]     the output of block L = 1..depth\n"
             "  final            [T, D]     the final norm applied to every token (timm "
             "forward_features)\n"
             "  attention_L      [H, T, T]  with --attention: block L's softmax (row = query)\n"
             "  q_L, k_L, v_L    [H, T, dh] with --qkv: block L's queries, keys, values as they\n"
             "                              enter the softmax (after RoPE, before 1/sqrt(dh))\n"
             "  --layer L|final  write only tokens_L (0..depth) or final, to -o OUT.npy\n"
             "  --qkv --layer L  only tokens_L, q_L, k_L, v_L of block L = 1..depth (-o OUT.npz)\n";
    case Command::Predict:
      return "usage: patchlens-cli predict (IMAGE | --tensor X.npy) --weights FILE [--top K] "
             "[--labels FILE] [-o OUT.npz] [options]\n\n"
             "Runs the ViT and its classifier head (timm, Hugging Face, torchvision, Google npz)\n"
             "and prints the top K classes, one a line: rank, class index, label, probability\n"
             "(tab-separated). A checkpoint without a head is refused.\n"
             "  --top K          how many classes                                   [5]\n"
             "  --labels FILE    class names, one a line [config.json id2label; ImageNet-1k "
             "for\n"
             "                   1000 classes; else 'class K']\n"
             "  -o OUT.npz       logits [C] and probabilities [C] (softmax), float32\n";
    case Command::Explain:
      return "usage: patchlens-cli explain (IMAGE | --tensor X.npy) --weights FILE [--class K] "
             "-o OUT.npz [options]\n"
             "       patchlens-cli explain (IMAGE | --tensor X.npy) --weights FILE --target "
             "similar:R,C -o OUT.npz\n"
             "       patchlens-cli explain (A | --tensor A.npy) --weights FILE --target similar-to "
             "B -o OUT.npz\n\n"
             "Why the model decides: the exact backward from the target through every block.\n"
             "The target is logits[K] (K = --class, else the top class), or with --target\n"
             "similar:R,C the cosine similarity between the final tokens of patch (R, C) and the\n"
             "class token (no class token: the mean patch token), for any model; or with\n"
             "--target similar-to B the cosine similarity of the two images' pooled final\n"
             "embeddings (pooled = the class token of the final tokens, or the mean patch token\n"
             "without a class token), differentiated with respect to A only (B's embedding is a\n"
             "constant). B is read as A is: an image preprocessed the same way, or with --tensor\n"
             "a model input .npy. Arrays (float32):\n"
             "  logits            [C]        (with a head)\n"
             "  class             []         int64, K (class targets only)\n"
             "  target            []         logits[K], or the similarity\n"
             "  grad_tokens_L     [T, D]     d target / d tokens_L, L = 0..depth (as forward)\n"
             "  grad_attention_L  [H, T, T]  d target / d block L's softmax, L = 1..depth\n"
             "  gradcam           [gh, gw]   relu(A w): A = last block's norm1 output on the\n"
             "                               patches, w = mean over patches of d target / d A\n"
             "  relevance         [gh, gw]   Chefer et al. 2021: R = I + sum over blocks of\n"
             "                               mean_h relu(dA (.) A) R; the class token's row\n"
             "  --labels FILE     class names, as predict\n";
    case Command::None:
      break;
  }
  return "";
}

template <typename T>
T parseNumber(const std::string& option, const std::string& text, T low, T high) {
  T value{};
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || value < low || value > high) {
    throw UsageError(option + " needs a number from " + std::to_string(low) + " to " +
                     std::to_string(high) + ", got '" + text + "'");
  }
  return value;
}

// A number in (0, high]; the message names the range the option accepts.
double parsePositive(const std::string& option, const std::string& text, double high) {
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || !(value > 0.0 && value <= high)) {
    std::ostringstream range;
    range << "(0, " << high << "]";
    throw UsageError(option + " needs a number in " + range.str() + ", got '" + text + "'");
  }
  return value;
}

void parseImageSize(const std::string& text, PreprocessConfig& p) {
  const std::size_t x = text.find('x');
  if (x == std::string::npos) {
    p.height = p.width = parseNumber<int>("--img-size", text, 1, 16384);
  } else {
    p.height = parseNumber<int>("--img-size", text.substr(0, x), 1, 16384);
    p.width = parseNumber<int>("--img-size", text.substr(x + 1), 1, 16384);
  }
}

Command parseCommand(const std::string& word) {
  if (word == "info") return Command::Info;
  if (word == "preprocess") return Command::Preprocess;
  if (word == "embed") return Command::Embed;
  if (word == "batch") return Command::Batch;
  if (word == "export") return Command::Export;
  if (word == "forward") return Command::Forward;
  if (word == "predict") return Command::Predict;
  if (word == "explain") return Command::Explain;
  throw UsageError("unknown command '" + word +
                   "' (expected info, preprocess, embed, forward, predict, explain, batch or "
                   "export)");
}

}  // namespace

CommandLine parseCommandLine(const std::vector<std::string>& args) {
  CommandLine cl;
  PipelineConfig& cfg = cl.config;
  bool maxPatchesGiven = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    std::optional<std::string> inlineValue;
    if (arg.rfind("--", 0) == 0) {
      const std::size_t eq = arg.find('=');
      if (eq != std::string::npos) {
        inlineValue = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
      }
    }
    auto value = [&]() -> std::string {
      if (inlineValue) return *inlineValue;
      if (i + 1 >= args.size()) throw UsageError(arg + " needs a value");
      return args[++i];
    };
    auto flag = [&] {
      if (inlineValue) throw UsageError(arg + " takes no value");
    };

    if (arg == "-h" || arg == "--help") {
      flag();
      cl.help = true;
    } else if (arg == "--version") {
      flag();
      cl.version = true;
    } else if (arg == "-o" || arg == "--output") {
      cl.output = value();
      if (cl.output.empty()) throw UsageError("-o needs a file name");
    } else if (arg == "-r" || arg == "--recursive") {
      flag();
      cl.recursive = true;
    } else if (arg == "--plot") {
      cl.plot = value();
      if (cl.plot.empty()) throw UsageError("--plot needs a KIND (see export --help)");
      cl.plots.push_back(cl.plot);
    } else if (arg == "--data") {
      cl.data = value();
      if (cl.data.empty())
        throw UsageError("--data needs embedding, token:R,C, channel:K or filters");
    } else if (arg == "--width") {
      cl.figureWidth = parsePositive("--width", value(), 10000);
    } else if (arg == "--height") {
      cl.figureHeight = parsePositive("--height", value(), 10000);
    } else if (arg == "--scale") {
      if (cl.figureScale > 0) throw UsageError("give either --scale or --dpi");
      cl.figureScale = parsePositive("--scale", value(), 20);
    } else if (arg == "--dpi") {
      if (cl.figureScale > 0) throw UsageError("give either --scale or --dpi");
      cl.figureScale = parsePositive("--dpi", value(), 1440) / 72.0;
    } else if (arg == "--colormap") {
      cl.colormap = value();
      if (cl.colormap.empty()) throw UsageError("--colormap needs a name");
    } else if (arg == "--attention") {
      flag();
      cl.attention = true;
    } else if (arg == "--qkv") {
      flag();
      cl.qkv = true;
    } else if (arg == "--source") {
      cl.source = value();
      if (cl.source.empty()) throw UsageError("--source needs tokens, queries, keys or values");
    } else if (arg == "--heads") {
      cl.heads = parseNumber<int>("--heads", value(), 1, 1024);
    } else if (arg == "--layer") {
      cl.layer = value();
      if (cl.layer.empty()) throw UsageError("--layer needs a block number or 'final'");
    } else if (arg == "--query") {
      cl.query = value();
      if (cl.query.empty()) throw UsageError("--query needs ROW,COL or cls, dist, reg N");
    } else if (arg == "--foreground") {
      const std::string v = value();
      cl.foreground = parseNumber<double>("--foreground", v, 0.0, 1.0);
    } else if (arg == "--foreground-flip") {
      flag();
      cl.foregroundFlip = true;
    } else if (arg == "--pool") {
      cl.pool = value();
      if (cl.pool != "cls" && cl.pool != "mean" && cl.pool != "none")
        throw UsageError("--pool must be cls, mean or none, got '" + cl.pool + "'");
    } else if (arg == "--shard") {
      const std::string v = value();
      const std::size_t slash = v.find('/');
      if (slash == std::string::npos) throw UsageError("--shard needs K/N, got '" + v + "'");
      cl.shardCount = parseNumber<int>("--shard N", v.substr(slash + 1), 1, 1 << 20);
      cl.shardIndex = parseNumber<int>("--shard K", v.substr(0, slash), 1, cl.shardCount);
    } else if (arg == "--resume") {
      flag();
      cl.resume = true;
    } else if (arg == "--top") {
      cl.top = parseNumber<int>("--top", value(), 1, 1000000);
    } else if (arg == "--labels") {
      cl.labels = value();
      if (cl.labels.empty()) throw UsageError("--labels needs a file");
    } else if (arg == "--class") {
      cl.classIndex = parseNumber<int>("--class", value(), 0, 10000000);
    } else if (arg == "--target") {
      cl.target = value();
      if (cl.target.empty()) throw UsageError("--target needs similar:ROW,COL or similar-to IMAGE");
      if (cl.target == "similar-to") {  // its image is the next argument
        if (i + 1 >= args.size() || args[i + 1].empty() || args[i + 1].rfind('-', 0) == 0)
          throw UsageError("--target similar-to needs an IMAGE");
        cl.similarTo = args[++i];
      }
    } else if (arg == "--compare") {
      cl.compare = value();
      if (cl.compare.empty()) throw UsageError("--compare needs a second IMAGE");
    } else if (arg == "--compare-weights") {
      cl.compareWeights = value();
      if (cl.compareWeights.empty()) throw UsageError("--compare-weights needs a weight file");
    } else if (arg == "--tensor") {
      cl.tensorPath = value();
    } else if (arg == "--weights") {
      cfg.weights.source = value();
      if (cfg.weights.source.empty())
        throw UsageError("--weights needs an initializer name or a file");
    } else if (arg == "--seed") {
      cfg.weights.seed = parseNumber<std::uint64_t>("--seed", value(), 0,
                                                    std::numeric_limits<std::uint64_t>::max());
    } else if (arg == "--key") {
      cfg.weights.file.key = value();
    } else if (arg == "--bias-key") {
      cfg.weights.file.biasKey = value();
    } else if (arg == "--img-size") {
      parseImageSize(value(), cfg.preprocess);
      cfg.explicitPreprocess.size = true;
    } else if (arg == "--patch-size") {
      cfg.weights.shape.patchSize = parseNumber<int>("--patch-size", value(), 1, 1024);
    } else if (arg == "--embed-dim") {
      cfg.weights.shape.embedDim = parseNumber<int>("--embed-dim", value(), 1, 65536);
    } else if (arg == "--resize") {
      const std::string v = value();
      const auto mode = parseResizeMode(v);
      if (!mode)
        throw UsageError("--resize must be crop, squash, pad or max-patches, got '" + v + "'");
      cfg.preprocess.resize = *mode;
      cfg.explicitPreprocess.resize = true;
    } else if (arg == "--max-patches") {
      cfg.preprocess.maxPatches = parseNumber<int>("--max-patches", value(), 1, 65536);
      cfg.preprocess.resize = ResizeMode::MaxPatches;
      cfg.explicitPreprocess.resize = true;
      maxPatchesGiven = true;
    } else if (arg == "--crop-pct") {
      const std::string v = value();
      cfg.preprocess.cropPct = parsePositive("--crop-pct", v, 1.0);
      if (cfg.preprocess.cropPct < kMinCropPct) {
        throw UsageError("--crop-pct needs a number in [" + configNumberText(kMinCropPct) +
                         ", 1] (a smaller one resizes to over 20 times the model input), got '" +
                         v + "'");
      }
      cfg.explicitPreprocess.cropPct = true;
    } else if (arg == "--interp") {
      const std::string v = value();
      const auto interp = parseInterpolation(v);
      if (!interp)
        throw UsageError("--interp must be bicubic, bilinear or nearest, got '" + v + "'");
      cfg.preprocess.interpolation = *interp;
      cfg.explicitPreprocess.interpolation = true;
    } else if (arg == "--norm") {
      const std::string v = value();
      const auto norm = Normalization::parse(v);
      if (!norm)
        throw UsageError("--norm must be inception, imagenet, clip, none or m,m,m/s,s,s, got '" +
                         v + "'");
      cfg.preprocess.normalization = *norm;
      cfg.explicitPreprocess.normalization = true;
    } else if (arg == "--remainder") {
      const std::string v = value();
      if (v == "crop")
        cfg.remainder = RemainderPolicy::Crop;
      else if (v == "pad")
        cfg.remainder = RemainderPolicy::Pad;
      else
        throw UsageError("--remainder must be crop or pad, got '" + v + "'");
    } else if (arg == "--no-exif") {
      flag();
      cfg.load.applyExifOrientation = false;
    } else if (arg == "--fast-decode") {
      flag();
      cfg.fastDecode = true;
    } else if (arg == "--max-pixels") {
      cfg.load.maxPixels =
          parseNumber<std::int64_t>("--max-pixels", value(), 1, std::int64_t{1} << 40);
    } else if (arg == "--max-decode-mb") {
      cfg.load.maxDecodeBytes =
          parseNumber<std::uint64_t>("--max-decode-mb", value(), 1, std::uint64_t{1} << 24) << 20;
    } else if (arg == "--max-scans") {
      cfg.load.maxJpegScans = parseNumber<int>("--max-scans", value(), 1, 1 << 20);
    } else if (arg == "--max-output-mb") {
      cfg.maxOutputBytes =
          parseNumber<std::uint64_t>("--max-output-mb", value(), 1, std::uint64_t{1} << 24) << 20;
      cfg.weights.file.maxWeightBytes = cfg.maxOutputBytes;
    } else if (arg == "--max-memory-mb") {
      cfg.maxMemoryBytes =
          parseNumber<std::uint64_t>("--max-memory-mb", value(), 1, std::uint64_t{1} << 24) << 20;
    } else if (arg == "--allow-nonfinite") {
      flag();
      cl.allowNonFinite = true;
    } else if (arg == "--threads") {
      cl.threads = parseNumber<int>("--threads", value(), 0, 1024);
    } else if (arg.size() > 1 && arg[0] == '-') {
      throw UsageError("unknown option '" + arg + "'");
    } else if (cl.command == Command::None) {
      cl.command = parseCommand(arg);
    } else {
      cl.inputs.push_back(arg);
    }
  }
  if (cl.help || cl.version) return cl;
  if (cl.config.preprocess.resize == ResizeMode::MaxPatches) {
    // Each image's size follows from its shape and the budget: a fixed size or a crop means
    // another resize mode.
    if (cl.config.explicitPreprocess.size)
      throw UsageError(
          "--img-size has no effect with max-patches resizing (each image is sized "
          "by its own shape); use --max-patches N for the budget");
    if (cl.config.explicitPreprocess.cropPct)
      throw UsageError("--crop-pct has no effect with max-patches resizing");
  } else if (maxPatchesGiven) {
    throw UsageError("--max-patches needs --resize max-patches (a later --resize replaced it)");
  }
  if ((!cl.compare.empty() || !cl.compareWeights.empty()) && cl.command != Command::Export)
    throw UsageError("--compare and --compare-weights apply to export only");
  switch (cl.command) {
    case Command::None:
      throw UsageError("no command given (try --help)");
    case Command::Info:
      if (cl.inputs.size() != 1) throw UsageError("info takes exactly one FILE");
      break;
    case Command::Preprocess:
      if (cl.inputs.size() != 1) throw UsageError("preprocess takes exactly one IMAGE");
      if (cl.output.empty()) throw UsageError("preprocess needs -o X.npy");
      break;
    case Command::Embed:
      if (cl.inputs.size() + (cl.tensorPath.empty() ? 0 : 1) != 1) {
        throw UsageError("embed takes exactly one IMAGE or --tensor X.npy");
      }
      if (cl.output.empty()) throw UsageError("embed needs -o Y.npy or -o Y.csv");
      break;
    case Command::Forward:
      if (cl.inputs.size() + (cl.tensorPath.empty() ? 0 : 1) != 1) {
        throw UsageError("forward takes exactly one IMAGE or --tensor X.npy");
      }
      if (cl.output.empty())
        throw UsageError("forward needs -o OUT.npz (or -o OUT.npy with --layer L)");
      if (!cl.layer.empty() && cl.attention)
        throw UsageError("--attention goes to an .npz; --layer writes one [T, D] array");
      if (!cl.source.empty())
        throw UsageError(
            "--source chooses an export figure's tokens; forward --qkv writes q, k, v");
      break;
    case Command::Predict:
    case Command::Explain: {
      const char* name = cl.command == Command::Predict ? "predict" : "explain";
      if (cl.inputs.size() + (cl.tensorPath.empty() ? 0 : 1) != 1)
        throw UsageError(std::string(name) + " takes exactly one IMAGE or --tensor X.npy");
      if (cl.command == Command::Explain && cl.output.empty())
        throw UsageError("explain needs -o OUT.npz");
      break;
    }
    case Command::Batch:
      if (cl.inputs.size() != 1) throw UsageError("batch takes exactly one DIR");
      if (cl.output.empty()) throw UsageError("batch needs -o OUTDIR");
      if (!cl.pool.empty() && cl.layer.empty())
        throw UsageError("--pool pools a transformer's tokens: give --layer L|final");
      if (!cl.layer.empty() && !cl.plots.empty())
        throw UsageError("--plot draws the patch embedding's figures; not with --layer");
      break;
    case Command::Export:
      if (cl.inputs.size() + (cl.tensorPath.empty() ? 0 : 1) != 1)
        throw UsageError(
            "export takes exactly one IMAGE (or --tensor X.npy for the classifier's "
            "kinds)");
      if (cl.plot.empty() == cl.data.empty())
        throw UsageError("export needs either --plot KIND or --data WHAT");
      if (cl.plots.size() > 1) throw UsageError("export draws one --plot; batch takes several");
      if (cl.output.empty())
        throw UsageError(cl.plot.empty() ? "export needs -o FILE.npy, FILE.csv (--data explain: "
                                           "FILE.npz)"
                                         : "export needs -o FILE.png, .svg or .pdf");
      if (!cl.data.empty() && (cl.figureWidth > 0 || cl.figureHeight > 0 || cl.figureScale > 0 ||
                               !cl.colormap.empty())) {
        throw UsageError("--width, --height, --scale, --dpi and --colormap apply to --plot only");
      }
      if (!cl.compare.empty() && !cl.compareWeights.empty())
        throw UsageError("give --compare B (two images) or --compare-weights W2 (two models)");
      if (!cl.data.empty() && cl.compare.empty() &&
          (!cl.query.empty() || cl.foreground >= 0 || cl.foregroundFlip || !cl.layer.empty())) {
        throw UsageError(
            "--layer, --query and --foreground apply to --plot only (--data tokens:L "
            "names its layer)");
      }
      if (cl.foregroundFlip && cl.foreground < 0)
        throw UsageError("--foreground-flip needs --foreground T");
      if (!cl.source.empty() &&
          (cl.plot.empty() || !cl.compare.empty() || !cl.compareWeights.empty()))
        throw UsageError("--source applies to one image's --plot with --layer L");
      break;
  }
  if (cl.qkv && cl.command != Command::Forward)
    throw UsageError("--qkv applies to forward (q_L, k_L, v_L in its .npz)");
  if (!cl.source.empty() && cl.command != Command::Export && cl.command != Command::Forward)
    throw UsageError("--source applies to export --plot (a token figure at --layer L)");
  return cl;
}

std::string helpText(Command command) {
  if (command != Command::None) return usageLine(command) + "\n" + kSharedOptions;
  return std::string(
             "patchlens-cli: the patch embedding of a Vision Transformer, exactly as PyTorch "
             "computes it.\n\n"
             "usage: patchlens-cli COMMAND [ARGS] [options]\n\n"
             "commands:\n"
             "  info FILE                          what an image or weight file holds\n"
             "  preprocess IMAGE -o X.npy          float32 [3, H, W], the model input\n"
             "  embed (IMAGE | --tensor X.npy) -o Y.npy|Y.csv\n"
             "                                     float32 [N, D], tokens in row-major grid order\n"
             "  forward (IMAGE | --tensor X.npy) --weights FILE -o OUT.npz [--attention]\n"
             "                                     the whole ViT encoder: tokens of every layer,\n"
             "                                     final norm, attention (-o OUT.npy --layer L)\n"
             "  predict (IMAGE | --tensor X.npy) --weights FILE [--top K] [-o OUT.npz]\n"
             "                                     the classifier head's top K classes\n"
             "  explain (IMAGE | --tensor X.npy) --weights FILE [--class K] -o OUT.npz\n"
             "                                     exact gradients, Grad-CAM and relevance\n"
             "  batch DIR -o OUTDIR [-r]           every image in DIR: OUTDIR/<name>.npy, progress "
             "bar\n"
             "  export IMAGE --plot KIND -o FILE.png|.svg|.pdf\n"
             "                                     one figure (channel:K, token:R,C, pca, filters, "
             "...)\n"
             "  export IMAGE --data WHAT -o FILE.npy|.csv\n"
             "                                     embedding, token:R,C, channel:K or filters\n\n"
             "Run 'patchlens-cli COMMAND --help' for a command's options.\n"
             "Exit status: 0 success, 1 bad input or failed work, 2 bad usage.\n\n") +
         kSharedOptions;
}

}  // namespace patchlens::cli
