#pragma once

#include "ui/pane/modelpane.h"

#include <QCoreApplication>
#include <QPointer>
#include <QUndoCommand>

#include <utility>

namespace attnviz::ui {

// One change of a pane's view on Qt's undo stack (Edit → Undo / Redo). Pushed after the
// pane made it: the first redo() does nothing.
class ViewChange : public QUndoCommand {
public:
    ViewChange(ModelPane* pane, PaneView before, PaneView after)
        : QUndoCommand(QCoreApplication::translate("attnviz::ui::ViewChange", "view change"))
        , m_pane(pane)
        , m_before(std::move(before))
        , m_after(std::move(after))
    {
    }

    void undo() override
    {
        if (m_pane)
            m_pane->setView(m_before);
    }
    void redo() override
    {
        if (std::exchange(m_first, false))
            return;  // pushed after the pane made it
        if (m_pane)
            m_pane->setView(m_after);
    }

private:
    QPointer<ModelPane> m_pane;
    PaneView m_before, m_after;
    bool m_first = true;
};

}  // namespace attnviz::ui
