#pragma once

#include "core/engine/methods/methodtable.h"

#include <QDialog>

#include <utility>
#include <vector>

class QCheckBox;
class QDialogButtonBox;
class QSpinBox;

namespace attnviz::ui {

// Asks which methods Analysis → Audit methods scores, and on how many images of the
// folder. Lists the audit's methods (engine::auditableMethods) of the families shown, in
// the method table's order; those that run many passes of their own per image (Score-CAM,
// integrated gradients, SmoothGrad, occlusion: minutes per image on a large model) start
// unchecked, the rest checked; a check box each, named "audit-<method>". OK needs one
// method at least.
class AuditDialog : public QDialog {
    Q_OBJECT
public:
    AuditDialog(const QString& folder, const std::vector<engine::Family>& families, QWidget* parent = nullptr);

    std::vector<engine::ViewMethod> methods() const;  // the checked ones, in the table's order
    std::size_t imageLimit() const;

    // The default choice: engine::quickAuditableMethods of each family, in the table's order.
    static std::vector<engine::ViewMethod> quickMethods(const std::vector<engine::Family>& families);

private:
    void updateOk();

    std::vector<std::pair<engine::ViewMethod, QCheckBox*>> m_methods;
    QSpinBox* m_limit = nullptr;
    QDialogButtonBox* m_buttons = nullptr;
};

}  // namespace attnviz::ui
