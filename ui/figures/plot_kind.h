#pragma once

#include <string>
#include <string_view>

namespace patchlens {

enum class PlotType {
  Channel,             // channel:K
  Token,               // token:R,C
  TokenLine,           // token-line:R,C
  Channels,            // channels:A-B
  Filters,             // filters
  FilterPca,           // filter-pca
  Pca,                 // pca
  Similarity,          // similarity:R,C
  PositionSimilarity,  // posembed
  Histogram,           // histogram
  Reconstruction,      // reconstruction[:K]
  Attention,           // attention:L (mean over heads) or attention:L,H
  AttentionHeads,      // attention-heads:L
  AttentionMask,       // attention-mask:L[:T]: DINO's per-head masks of the top T of the mass
  Rollout,             // rollout
  AttentionDistance,   // attention-distance
  TokenNorms,          // token-norms
  Matches,             // matches[:K] (two images: export --compare)
  JointPca,            // joint-pca (two images)
  SimilarityTo,        // similarity-to:R,C (two images: A's patch over B)
  Prediction,          // prediction[:K]: the classifier's top K (default 5)
  GradCam,             // gradcam[:K]: Grad-CAM of class K (-1: the top class)
  Relevance,           // relevance[:K]: Chefer et al. relevance of class K (-1: the top class)
};

// A figure named the way the CLI and the GUI's export menu name it ("channel:5").
struct PlotKind {
  PlotType type = PlotType::Channel;
  int first = 0;   // channel K, row R, first channel A, PCA components or matches K (0 = none)
  int second = 0;  // column C, last channel B, or head H (-1: the mean over heads)
  float threshold = kDefaultMassThreshold;  // attention-mask: the attention mass kept

  // DINO's visualize_attention.py uses --threshold 0.6 in its README.
  static constexpr float kDefaultMassThreshold = 0.6f;

  // Throws std::invalid_argument with a one-line reason on a malformed name.
  static PlotKind parse(std::string_view text);
  std::string name() const;
  // Matches, JointPca and SimilarityTo draw two images (export A --compare B).
  bool needsTwoImages() const;
  // Prediction, GradCam and Relevance need the classifier (FigureData::explainer).
  bool needsClassifier() const;
  // Drawn from the layer's tokens alone (channel, token, token-line, channels, similarity,
  // histogram, pca): the kinds `--source queries|keys|values` applies to (issue 21).
  bool drawsTokens() const;
};

// The accepted forms, for help texts: "channel:K, token:R,C, ...".
std::string plotKindSyntax();

}  // namespace patchlens
