#pragma once

// The method table's rows: every view method attnviz computes, one row each. This list is
// the one place a method is declared: the ViewMethod enum below and, in methodtable.h, the
// declarations of the compute functions and the table (MethodInfo) that the CLI's parser
// and help, the window's method box, the export planner and docs/methods.md read.
//
// Adding a method: a file in this folder that defines its compute function
//   ViewMaps fooView(const Classifier& model, const Trace& trace, const ViewRequest& request);
// and a row here. The columns (MethodInfo says what each value means):
//   Id, name, citation, families, source, heads, layer, query, camInput, settings, explains, compute
// (settings: the set of the method's own settings, setting_sets in methodsettings.h)
// clang-format off
#define ATTNVIZ_VIEW_METHODS(X) \
    X(Attention,              "attention",               "Dosovitskiy et al. 2021; Caron et al. 2021",            ViT,  Trace,  Choose, Pick,         true,  false, None,      Nothing, attentionView) \
    X(Rollout,                "rollout",                 "Abnar & Zuidema 2020",                                  ViT,  Trace,  Fuse,   RolloutStart, false, false, None,      Nothing, rolloutView) \
    X(GradRollout,            "grad-rollout",            "Gildenblat 2020 (vit-explain)",                         ViT,  Pass,   Fuse,   RolloutStart, false, false, None,      Class,   gradRolloutView) \
    X(GenericAttention,       "generic-attention",       "Chefer, Gur & Wolf, ICCV 2021",                         ViT,  Pass,   None,   RolloutStart, false, false, None,      Class,   genericAttentionView) \
    X(TransformerAttribution, "transformer-attribution", "Chefer, Gur & Wolf, CVPR 2021",                         ViT,  Pass,   None,   RolloutStart, false, false, None,      Class,   transformerAttributionView) \
    X(LeGrad,                 "legrad",                  "Bousselham et al., ICCV 2025",                          ViT,  Pass,   None,   SumFrom,      false, false, None,      Class,   legradView) \
    X(GradCam,                "gradcam",                 "Selvaraju et al. 2017",                                 Both, Pass,   None,   Pick,         false, true, None,      Class,   camView) \
    X(GradCamPlusPlus,        "gradcam++",               "Chattopadhay et al. 2018",                              Both, Pass,   None,   Pick,         false, true, None,      Class,   camView) \
    X(XGradCam,               "xgradcam",                "Fu et al. 2020",                                        Both, Pass,   None,   Pick,         false, true, None,      Class,   camView) \
    X(HiResCam,               "hirescam",                "Draelos & Carin 2020",                                  Both, Pass,   None,   Pick,         false, true, None,      Class,   camView) \
    X(LayerCam,               "layercam",                "Jiang et al. 2021",                                     Both, Pass,   None,   Pick,         false, true, None,      Class,   camView) \
    X(EigenCam,               "eigencam",                "Muhammad & Yeasin 2020",                                Both, Pass,   None,   Pick,         false, true, None,      Class,   camView) \
    X(ScoreCam,               "scorecam",                "Wang et al. 2020",                                      Both, Passes, None,   Pick,         false, true, None,      Class,   camView) \
    X(AblationCam,            "ablationcam",             "Desai & Ramaswamy 2020",                                Both, Passes, None,   Pick,         false, true, None,      Class,   camView) \
    X(EffectiveField,         "erf",                     "Luo et al. 2016",                                       CNN,  Pass,   None,   Unit,         false, false, None,      Place,   effectiveFieldView) \
    X(Saliency,               "saliency",                "Simonyan, Vedaldi & Zisserman 2014",                    Both, Pass,   None,   Input,        false, false, None,      Class,   saliencyView) \
    X(IntegratedGradients,    "integrated-gradients",    "Sundararajan, Taly & Yan, ICML 2017",                   Both, Passes, None,   Input,        false, false, Path,      Class,   integratedGradientsView) \
    X(SmoothGrad,             "smoothgrad",              "Smilkov et al. 2017",                                   Both, Passes, None,   Input,        false, false, Noise,     Class,   smoothGradView) \
    X(Occlusion,              "occlusion",               "Zeiler & Fergus, ECCV 2014",                            Both, Passes, None,   Input,        false, false, Occlusion, Class,   occlusionView) \
    X(Similarity,             "similarity",              "Caron et al. 2021; Oquab et al. 2023 (patch similarity)", Both, Pass,   None, Pick,         true,  false, None,      Place,   similarityView) \
    X(LogitLens,              "logit-lens",              "Joseph 2023 (ViT-Prisma), after nostalgebraist 2020",   ViT,  Pass,   None,   Pick,         false, false, None,      Class,   logitLensView) \
    X(Pca,                    "pca",                     "Oquab et al. 2023 (DINOv2, fig. 1 and 9)",              Both, Pass,   None,   Pick,         false, false, None,      Nothing, pcaView) \
    X(CentreBaseline,         "centre",                  "baseline: a Gaussian centre prior, no model",           Both, Trace,  None,   Input,        false, false, None,      Nothing, centreView) \
    X(EdgesBaseline,          "edges",                   "baseline: Sobel edges of the input (Adebayo et al. 2018)", Both, Trace,  None, Input,        false, false, None,      Nothing, edgesView) \
    /* a new method: one row above this line */
// clang-format on

namespace attnviz::engine {

// One enumerator per row, in the table's order.
enum class ViewMethod {
#define ATTNVIZ_METHOD_ENUMERATOR(id, ...) id,
    ATTNVIZ_VIEW_METHODS(ATTNVIZ_METHOD_ENUMERATOR)
#undef ATTNVIZ_METHOD_ENUMERATOR
};

}  // namespace attnviz::engine
