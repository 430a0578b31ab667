// ECharts with only the parts the reports use, loaded on demand so other pages (a volunteer's phone) never download it.
import { BarChart, LineChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TitleComponent, TooltipComponent } from 'echarts/components';
import { init, use, type EChartsCoreOption, type EChartsType } from 'echarts/core';
import { SVGRenderer } from 'echarts/renderers';

// SVG renders crisp text at any zoom and prints well; the charts are small, so canvas buys nothing.
use([BarChart, LineChart, GridComponent, LegendComponent, TitleComponent, TooltipComponent, SVGRenderer]);

export type ChartOption = EChartsCoreOption;
export type Chart = EChartsType;

export function drawChart(holder: HTMLElement, option: ChartOption): Chart {
  const chart = init(holder, undefined, { renderer: 'svg' });
  chart.setOption(option);
  return chart;
}
