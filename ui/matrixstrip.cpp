#include "ui/matrixstrip.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QVBoxLayout>

namespace attnviz::ui {

MatrixStrip::MatrixStrip(const QString& hint, QWidget* parent)
    : QScrollArea(parent)
    , m_content(new QWidget(this))
{
    auto* column = new QVBoxLayout(m_content);
    column->setContentsMargins(4, 4, 4, 4);
    m_caption = new QLabel(hint, m_content);
    m_caption->setAlignment(Qt::AlignCenter);
    m_caption->setWordWrap(true);
    column->addWidget(m_caption);
    m_row = new QHBoxLayout;
    column->addLayout(m_row, 1);
    setWidget(m_content);
    setWidgetResizable(true);
}

void MatrixStrip::clear()
{
    while (auto* item = m_row->takeAt(0)) {
        delete item->widget();
        delete item;
    }
}

void MatrixStrip::setMatrices(const QString& title, const std::vector<std::pair<QImage, QString>>& images)
{
    clear();
    m_title = title;
    m_hasMatrices = true;
    m_caption->setText(title);
    m_caption->setAlignment(Qt::AlignLeft);
    auto* row = m_row;
    for (const auto& [image, tooltip] : images) {
        auto* label = new QLabel(m_content);
        label->setPixmap(QPixmap::fromImage(image));
        label->setAlignment(Qt::AlignTop | Qt::AlignLeft);
        label->setToolTip(tooltip);
        row->addWidget(label);
    }
    row->addStretch(1);
}

}  // namespace attnviz::ui
