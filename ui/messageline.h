#pragma once

#include <QLabel>

namespace attnviz::ui {

// A message on one line whatever its length, so that showing it moves nothing: elided
// in its middle to the width it is given (paths keep their file name), whole in the
// tooltip.
class MessageLine : public QLabel {
public:
    explicit MessageLine(QWidget* parent = nullptr)
        : QLabel(parent)
    {
        setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    }

    void setMessage(const QString& message)
    {
        m_message = message;
        setToolTip(message);
        fit();
    }
    const QString& message() const { return m_message; }

protected:
    void resizeEvent(QResizeEvent* event) override
    {
        QLabel::resizeEvent(event);
        fit();
    }

private:
    void fit() { setText(fontMetrics().elidedText(m_message, Qt::ElideMiddle, width())); }

    QString m_message;
};

}  // namespace attnviz::ui
