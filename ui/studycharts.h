#pragma once

#include "ui/analysiscontroller.h"

QT_BEGIN_NAMESPACE
class QChartView;
QT_END_NAMESPACE

namespace attnviz::ui {

// Skip-connection strength of both models on the analysed image (from their traces, no
// pass of its own): residual-stream norm over branch norm against relative depth, on a
// log scale; the ViT's attention and MLP additions apart, spatial tokens solid, CLS
// dashed (Raghu et al. 2021).
void drawSkipRatios(QChartView* view, const Analysis& analysis);

// Linear-probe accuracy on the held-out split against relative depth: the ViT's CLS token
// and patch mean, the CNN's global average pool; training accuracy dashed.
void drawProbes(QChartView* view, const LayerProbes& probes);

// The audit of a folder (docs/audit.md): per model and method, horizontal bars of the
// pointing game, the energy in the mask and the top cells' IoU (without masks: the
// deletion and insertion AUCs) with their 95 % intervals as whiskers, and the
// randomisation check's rank correlation and verdict in the method's label.
void drawAudit(QChartView* view, const FolderAuditResult& audit);

}  // namespace attnviz::ui
